"""A small UnionPay ACP 5.1.0 client written from UnionPay's published rules (no ACP client is
published on PyPI or npm), against `campuspay sandbox`. Only `cryptography` (pinned by .ci/run).

Rules followed, as the official ACP SDKs implement them:
- signMethod 01: drop empty fields and `signature`, sort by name, join `k=v&…`; SHA-256 of that
  as lower-case hex; SHA256withRSA over the hex text; Base64. `certId` = the decimal serial of
  the merchant signing certificate.
- An answer or notification is trusted only if its `signPubKeyCert` is within its dates, chains
  (PKIX, no revocation) to the configured middle and root certificates, names the owner
  `中国银联股份有限公司` in the third `@`-part of its CN, and its key verifies `signature`.
- Answers of backTransReq.do / queryTrans.do / fileTransfer.do are raw `k=v&…` (values not
  URL-encoded; a value ends at the next `&` outside `{…}` or `[…]`); notifications are forms.

Covered: the gateway form (frontTransReq.do), the QR code (txnType 01/07), query (00), paying at
the simulator, the back notification, refund (04) with its notification and query, 消费撤销 (31),
and the reconciliation file (txnType 76). ACP has no close of an unpaid order for these products
(an order lapses at its payTimeout); the cancellation of a paid one (31, whole amount, the same
day) is what it offers instead.
"""

import base64
import hashlib
import io
import sys
import time
import urllib.parse
import urllib.request
import zipfile
import zlib
from datetime import datetime, timedelta, timezone

from sandbox import Inbox, Sandbox, check, fail

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:
    fail("cryptography is missing: pip install cryptography (see .ci/run)")

UNIONPAY_OWNER = "中国银联股份有限公司"
SHANGHAI = timezone(timedelta(hours=8))


def sign_string(fields):
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "signature")


def digest_hex(fields):
    return hashlib.sha256(sign_string(fields).encode()).hexdigest().encode()


def parse_raw(body):
    """The SDKs' parser of a raw answer."""
    fields, key, value, depth, in_key = {}, "", "", [], True
    for c in body.strip():
        if in_key:
            if c == "=":
                in_key = False
            else:
                key += c
            continue
        if depth and c == depth[-1]:
            depth.pop()
        elif c in "{[":
            depth.append("}" if c == "{" else "]")
        elif c == "&" and not depth:
            fields[key], key, value, in_key = value, "", "", True
            continue
        value += c
    if key:
        fields[key] = value
    return fields


class AcpClient:
    def __init__(self, sb):
        c = sb.credentials["unionpay"]
        self.base = sb.base + c["base_path"]
        self.mer_id, self.cert_id = c["mer_id"], c["cert_id"]
        self.key = serialization.load_pem_private_key(sb.file("unionpay", "merchant_private_key_file").encode(), None)
        self.root = x509.load_pem_x509_certificate(sb.file("unionpay", "root_cert_file").encode())
        self.middle = x509.load_pem_x509_certificate(sb.file("unionpay", "middle_cert_file").encode())

    def signed(self, **fields):
        f = {"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "certId": self.cert_id, "merId": self.mer_id, "accessType": "0"}
        f.update({k: v for k, v in fields.items() if v != ""})
        f["signature"] = base64.b64encode(self.key.sign(digest_hex(f), padding.PKCS1v15(), hashes.SHA256())).decode()
        return f

    def post(self, endpoint, fields):
        data = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(f"{self.base}/{endpoint}", data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = parse_raw(r.read().decode())
        self.verify(answer)
        return answer

    def verify(self, fields):
        """UnionPay's signature on an answer or notification, checked as the official SDKs do."""
        check(fields.get("merId") == self.mer_id, f"merId: {fields}")
        cert = x509.load_pem_x509_certificate(fields["signPubKeyCert"].encode())
        now = datetime.now(timezone.utc)
        check(cert.not_valid_before_utc <= now <= cert.not_valid_after_utc, "signPubKeyCert out of its dates")
        check(self.middle.extensions.get_extension_for_class(x509.BasicConstraints).value.ca, "middle is not a CA")
        try:
            cert.verify_directly_issued_by(self.middle)
            self.middle.verify_directly_issued_by(self.root)
        except (ValueError, TypeError, InvalidSignature) as e:
            fail(f"signPubKeyCert does not chain to the configured root and middle: {e!r}")
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        parts = cn.split("@")
        check(len(parts) > 2 and parts[2] == UNIONPAY_OWNER, f"certificate owner: {cn}")
        try:
            sig = base64.b64decode(fields["signature"])
            cert.public_key().verify(sig, digest_hex(fields), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            fail(f"bad signature on {fields.get('txnType')}/{fields.get('orderId')}")


def txn_time():
    return datetime.now(SHANGHAI).strftime("%Y%m%d%H%M%S")


def notification(client, inbox):
    path, headers, body = inbox.next()
    check(path == "/notify/unionpay", f"notified at {path}")
    fields = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    client.verify(fields)
    return fields


def main():
    run = str(int(time.time()))
    sb = Sandbox()
    inbox = Inbox((200, "ok"))
    try:
        acp = AcpClient(sb)
        back_url = f"{inbox.url}/notify/unionpay"
        timeout = (datetime.now(SHANGHAI) + timedelta(minutes=30)).strftime("%Y%m%d%H%M%S")

        # Gateway: the browser posts the signed form to frontTransReq.do and lands on the cashier.
        gw, gw_time = f"UPGW{run}", txn_time()
        form = acp.signed(txnType="01", txnSubType="01", bizType="000201", channelType="07", orderId=gw, txnTime=gw_time,
                          txnAmt="1000", currencyCode="156", backUrl=back_url, frontUrl="http://127.0.0.1:9/back", payTimeout=timeout)
        status, location = get_no_redirect_post(f"{acp.base}/frontTransReq.do", form)
        check(status in (302, 303) and location.endswith(f"/sandbox/unionpay/cashier/{gw}"), f"gateway form: {status} {location}")

        # QR: apply for a code (txnType 01, txnSubType 07, bizType 000000).
        no, t = f"UPQR{run}", txn_time()
        r = acp.post("backTransReq.do", acp.signed(txnType="01", txnSubType="07", bizType="000000", channelType="08", orderId=no,
                                                   txnTime=t, txnAmt="2500", currencyCode="156", backUrl=back_url, payTimeout=timeout))
        check(r["respCode"] == "00" and r["qrCode"].startswith("http"), f"QR apply: {r}")

        def query(order_id, at):
            return acp.post("queryTrans.do", acp.signed(txnType="00", txnSubType="00", bizType="000000", channelType="07",
                                                        orderId=order_id, txnTime=at))

        r = query(no, t)
        check(r["respCode"] == "00" and r["origRespCode"] == "05", f"query before paying: {r}")
        r = query(f"UPNO{run}", t)
        check(r["respCode"] == "34", f"query of no order: {r}")

        # The payer pays; UnionPay sends the back notification to backUrl.
        paid = sb.pay("unionpay", no)
        check(paid["result"] == "paid", f"pay: {paid}")
        n = notification(acp, inbox)
        check(n["orderId"] == no and n["txnType"] == "01" and n["respCode"] == "00" and n["txnAmt"] == "2500", f"notification: {n}")
        query_id = n["queryId"]
        forged = dict(n, txnAmt="1")
        try:
            cert = x509.load_pem_x509_certificate(forged["signPubKeyCert"].encode())
            cert.public_key().verify(base64.b64decode(forged["signature"]), digest_hex(forged), padding.PKCS1v15(), hashes.SHA256())
            fail("a changed notification still verified")
        except InvalidSignature:
            pass
        r = query(no, t)
        check(r["origRespCode"] == "00" and r["queryId"] == query_id and r["txnAmt"] == "2500", f"query after paying: {r}")

        # Refund (04) part of it against the consumption's queryId, then query the refund.
        rf, rt = f"UPRF{run}", txn_time()
        r = acp.post("backTransReq.do", acp.signed(txnType="04", txnSubType="00", bizType="000000", channelType="08", orderId=rf,
                                                   txnTime=rt, txnAmt="1000", currencyCode="156", origQryId=query_id, backUrl=back_url))
        check(r["respCode"] == "00" and r["orderId"] == rf, f"refund: {r}")
        refunds(acp, inbox, query, rf, rt)

        # The `refund` switch: processing (accepted, queried 05 until done, then notified), fail.
        def refund(order_id, at, amount):
            return acp.post("backTransReq.do", acp.signed(txnType="04", txnSubType="00", bizType="000000", channelType="08",
                                                          orderId=order_id, txnTime=at, txnAmt=amount, currencyCode="156",
                                                          origQryId=query_id, backUrl=back_url))

        sb.behaviour("unionpay", {"refund": "processing", "refund_delay_s": 100})
        rf2, rt2 = f"UPRP{run}", txn_time()
        r = refund(rf2, rt2, "500")
        check(r["respCode"] == "00", f"processing refund: {r}")
        r = query(rf2, rt2)
        check(r["respCode"] == "00" and r["origRespCode"] == "05", f"refund query while processing: {r}")
        refunds(acp, inbox, query, rf2, rt2, "500")
        sb.behaviour("unionpay", {"refund": "fail"})
        r = refund(f"UPRE{run}", txn_time(), "100")
        check(r["respCode"] == "01", f"failed refund: {r}")
        sb.behaviour("unionpay", {"refund": "instant"})

        # 消费撤销 (31): the whole of a consumption paid today; a part of it is refused (35).
        cn, ct = f"UPCN{run}", txn_time()
        r = acp.post("backTransReq.do", acp.signed(txnType="01", txnSubType="07", bizType="000000", channelType="08", orderId=cn,
                                                   txnTime=ct, txnAmt="800", currencyCode="156", backUrl=back_url, payTimeout=timeout))
        check(r["respCode"] == "00", f"QR apply: {r}")
        sb.pay("unionpay", cn)
        paid_id = notification(acp, inbox)["queryId"]

        def cancel(order_id, at, amount):
            return acp.post("backTransReq.do", acp.signed(txnType="31", txnSubType="00", bizType="000000", channelType="08",
                                                          orderId=order_id, txnTime=at, txnAmt=amount, currencyCode="156",
                                                          origQryId=paid_id, backUrl=back_url))

        r = cancel(f"UPCP{run}", txn_time(), "100")
        check(r["respCode"] == "35", f"a partial cancellation: {r}")
        cx, cxt = f"UPCX{run}", txn_time()
        r = cancel(cx, cxt, "800")
        check(r["respCode"] == "00", f"cancellation: {r}")
        n = notification(acp, inbox)
        check(n["txnType"] == "31" and n["orderId"] == cx and n["respCode"] == "00" and n["origQryId"] == paid_id, f"cancel notification: {n}")
        r = query(cx, cxt)
        check(r["origRespCode"] == "00" and r["queryId"] == n["queryId"], f"cancellation query: {r}")
        r = acp.post("backTransReq.do", acp.signed(txnType="04", txnSubType="00", bizType="000000", channelType="08", orderId=f"UPRX{run}",
                                                   txnTime=txn_time(), txnAmt="1500", currencyCode="156", origQryId=query_id, backUrl=back_url))
        check(r["respCode"] == "33", f"refund over what is left: {r}")

        # The day's reconciliation file (txnType 76): Base64 of the deflated zip.
        settle = datetime.now(SHANGHAI).strftime("%m%d")
        r = acp.post("fileTransfer.do", acp.signed(txnType="76", txnSubType="01", bizType="000000", fileType="00", settleDate=settle,
                                                   txnTime=txn_time()))
        check(r["respCode"] == "00" and r["fileName"], f"file transfer: {r}")
        archive = zipfile.ZipFile(io.BytesIO(zlib.decompress(base64.b64decode(r["fileContent"]))))
        text = "".join(archive.read(name).decode("gbk") for name in archive.namelist())
        check(query_id in text and no in text, f"the file lacks the payment: {archive.namelist()}")

        # A request signed with another key is refused (respCode 11), unsigned.
        acp_key, acp.key = acp.key, rsa.generate_private_key(public_exponent=65537, key_size=2048)
        req = urllib.request.Request(f"{acp.base}/queryTrans.do", data=urllib.parse.urlencode(
            acp.signed(txnType="00", txnSubType="00", bizType="000000", channelType="07", orderId=no, txnTime=t)).encode())
        with urllib.request.urlopen(req, timeout=10) as resp:
            refused = parse_raw(resp.read().decode())
        check(refused.get("respCode") == "11" and "signature" not in refused, f"bad signature: {refused}")
        acp.key = acp_key
    finally:
        inbox.stop()
        sb.stop()
    print("unionpay interop: ok")


def refunds(acp, inbox, query, rf, rt, amount="1000"):
    """The refund ends: its back notification (txnType 04) and its own query."""
    n = notification(acp, inbox)
    check(n["txnType"] == "04" and n["orderId"] == rf and n["respCode"] == "00" and n["txnAmt"] == amount, f"refund notification: {n}")
    check(n["txnTime"] == rt and n["origQryId"], f"refund notification: {n}")
    r = query(rf, rt)
    check(r["respCode"] == "00" and r["origRespCode"] == "00" and r["queryId"] == n["queryId"], f"refund query: {r}")


def get_no_redirect_post(url, fields):
    import http.client

    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("POST", u.path, urllib.parse.urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    return r.status, r.getheader("Location")


if __name__ == "__main__":
    main()
    sys.exit(0)
