"""python-alipay-sdk 3.4.0 (PyPI, import name `alipay`), unmodified, against `campuspay sandbox`.

The SDK has no gateway parameter: `debug=False` picks https://openapi.alipay.com/gateway.do, so
the test sets its `_gateway` attribute to the sandbox's gateway (the one change the SDK allows
without patching it). It sends every call as a GET with all parameters in the query string, and
verifies every answer's `sign` (an answer without one, or an `error_response`, raises).

Covered: precreate (QR), page and wap pay (the browser's signed redirect), query, paying at the
simulator's cashier, the payment notification (verified by `AliPay.verify`), close, refund,
refund query, the bill download URL and its file, and business errors reported by code.
Run by scripts/test after `cargo build`; exits non-zero on the first failure.
"""

import io
import json
import sys
import time
import urllib.parse
import urllib.request
import zipfile

from sandbox import Inbox, Sandbox, check, fail, get_no_redirect

try:
    from alipay import AliPay
    from alipay.exceptions import AliPayException
except ImportError:
    fail("python-alipay-sdk is missing: pip install python-alipay-sdk==3.4.0 (see .ci/run)")


def client(sb, inbox, private_key=None):
    c = sb.credentials["alipay"]
    a = AliPay(
        appid=c["app_id"],
        app_notify_url=f"{inbox.url}/notify/alipay",
        app_private_key_string=private_key or sb.file("alipay", "app_private_key_file"),
        alipay_public_key_string=sb.file("alipay", "alipay_public_key_file"),
        sign_type="RSA2",
    )
    a._gateway = sb.base + c["gateway_path"]
    return a


def notification(inbox):
    path, headers, body = inbox.next()
    check(path == "/notify/alipay", f"notified at {path}")
    check(headers.get("content-type", "").startswith("application/x-www-form-urlencoded"), f"content type {headers}")
    return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))


def verified(alipay, data):
    """The SDK's own check: pop `sign`, hand the rest (with `sign_type`) to `verify`."""
    data = dict(data)
    sign = data.pop("sign")
    check(alipay.verify(data, sign), f"AliPay.verify refused {data}")


def main():
    run = str(int(time.time()))
    sb = Sandbox()
    inbox = Inbox((200, "success"))
    try:
        alipay = client(sb, inbox)

        # Precreate: a code to scan.
        a = f"IOPA{run}"
        r = alipay.api_alipay_trade_precreate(subject="学费 2026 秋", out_trade_no=a, total_amount="12.34")
        check(r["code"] == "10000" and r["out_trade_no"] == a and r["qr_code"].startswith("http"), f"precreate: {r}")

        # Page and wap pay are signed query strings the browser takes to the gateway (GET).
        for method, no in ((alipay.api_alipay_trade_page_pay, f"IOPP{run}"), (alipay.api_alipay_trade_wap_pay, f"IOPW{run}")):
            query = method(subject="住宿费", out_trade_no=no, total_amount="1.00", return_url="http://127.0.0.1:9/back")
            status, location = get_no_redirect(f"{alipay._gateway}?{query}")
            check(status in (302, 303) and location.endswith(f"/sandbox/alipay/cashier/{no}"), f"{no}: {status} {location}")
            r = alipay.api_alipay_trade_query(out_trade_no=no)
            check(r["trade_status"] == "WAIT_BUYER_PAY", f"{no} query: {r}")

        r = alipay.api_alipay_trade_query(out_trade_no=a)
        check(r["code"] == "10000" and r["trade_status"] == "WAIT_BUYER_PAY" and r["total_amount"] == "12.34", f"query: {r}")

        # The payer pays; Alipay notifies the notify_url, signed RSA2.
        paid = sb.pay("alipay", a)
        check(paid["result"] == "paid", f"pay: {paid}")
        n = notification(inbox)
        verified(alipay, n)
        check(n["out_trade_no"] == a and n["trade_status"] == "TRADE_SUCCESS" and n["total_amount"] == "12.34", f"notification: {n}")
        check(n["trade_no"] == paid["transaction_id"] and n["app_id"] == sb.credentials["alipay"]["app_id"], f"notification: {n}")
        forged = dict(n, total_amount="0.01")
        forged_sign = forged.pop("sign")
        check(not alipay.verify(forged, forged_sign), "a changed notification still verified")

        r = alipay.api_alipay_trade_query(trade_no=n["trade_no"])
        check(r["trade_status"] == "TRADE_SUCCESS" and r["out_trade_no"] == a, f"query by trade_no: {r}")

        # Close an unpaid trade; a paid one cannot be closed (reported by code, not raised).
        b = f"IOPB{run}"
        alipay.api_alipay_trade_precreate(subject="教材费", out_trade_no=b, total_amount="3.00")
        r = alipay.api_alipay_trade_close(out_trade_no=b)
        check(r["code"] == "10000" and r["out_trade_no"] == b, f"close: {r}")
        check(alipay.api_alipay_trade_query(out_trade_no=b)["trade_status"] == "TRADE_CLOSED", "closed trade not TRADE_CLOSED")
        r = alipay.api_alipay_trade_close(out_trade_no=a)
        check(r["code"] == "40004" and r["sub_code"] == "ACQ.TRADE_STATUS_ERROR", f"close of a paid trade: {r}")

        # Refund part of it, then ask about that refund.
        r = alipay.api_alipay_trade_refund("2.00", out_trade_no=a, out_request_no=f"{a}R1")
        check(r["code"] == "10000" and r["fund_change"] == "Y" and r["refund_fee"] == "2.00", f"refund: {r}")
        n = notification(inbox)
        verified(alipay, n)
        check(n["out_biz_no"] == f"{a}R1" and n["refund_fee"] == "2.00" and n["trade_status"] == "TRADE_SUCCESS", f"refund notification: {n}")
        check(n["gmt_refund"] and "gmt_close" not in n, f"refund notification: {n}")
        r = alipay.api_alipay_trade_refund("2.00", out_trade_no=a, out_request_no=f"{a}R1")
        check(r["code"] == "10000" and r["fund_change"] == "N" and r["refund_fee"] == "2.00", f"repeated refund: {r}")
        r = alipay.api_alipay_trade_fastpay_refund_query(f"{a}R1", out_trade_no=a)
        check(r["code"] == "10000" and r.get("refund_status") == "REFUND_SUCCESS", f"refund query: {r}")
        check(r["refund_amount"] == "2.00" and r["total_amount"] == "12.34" and r["out_request_no"] == f"{a}R1", f"refund query: {r}")
        r = alipay.api_alipay_trade_fastpay_refund_query(f"{a}R9", trade_no=n["trade_no"])
        check(r["code"] == "10000" and "refund_status" not in r and "refund_amount" not in r, f"query of no refund: {r}")
        r = alipay.api_alipay_trade_refund("20.00", out_trade_no=a, out_request_no=f"{a}R2")
        check(r["code"] == "40004" and r["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", f"refund over the total: {r}")

        # The day's bill: the signed query for its URL, then the file at that URL.
        today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
        biz = {"bill_type": "trade", "bill_date": today}
        query = alipay.client_api("alipay.data.dataservice.bill.downloadurl.query", biz)
        with urllib.request.urlopen(f"{alipay._gateway}?{query}", timeout=10) as resp:
            raw = resp.read().decode()
        check('"sign"' in raw and "bill_download_url" in raw, f"bill url answer: {raw}")
        # client_api only signs; the SDK's verified call of any method is server_api.
        r = alipay.server_api("alipay.data.dataservice.bill.downloadurl.query", biz)
        check(r["code"] == "10000", f"bill url: {r}")
        with urllib.request.urlopen(r["bill_download_url"], timeout=10) as resp:
            archive = zipfile.ZipFile(io.BytesIO(resp.read()))
        text = "".join(archive.read(name).decode("gbk") for name in archive.namelist())
        check(n["trade_no"] in text and a in text, f"the bill lacks the trade: {archive.namelist()}")

        # Business errors come back signed inside the method's node: the SDK returns the code.
        r = alipay.api_alipay_trade_query(out_trade_no=f"IOPX{run}")
        check(r["code"] == "40004" and r["sub_code"] == "ACQ.TRADE_NOT_EXIST", f"unknown trade: {r}")
        # So does a request signed with the wrong key (isv.invalid-signature).
        from Cryptodome.PublicKey import RSA

        stranger = client(sb, inbox, RSA.generate(2048).export_key().decode())
        r = stranger.api_alipay_trade_query(out_trade_no=a)
        check(r["code"] == "40002" and r["sub_code"] == "isv.invalid-signature", f"bad signature: {r}")
        # A method the gateway does not have is an `error_response`, which the SDK raises.
        try:
            alipay.server_api("alipay.trade.no.such.method", {"out_trade_no": a})
            fail("an unknown method did not raise")
        except AliPayException as e:
            check("isv.invalid-method" in str(e), f"unknown method: {e}")

        refunds(sb, alipay, inbox, run)
    finally:
        inbox.stop()
        sb.stop()
    print("alipay interop: ok")


def refunds(sb, alipay, inbox, run):
    """The sandbox's `refund` switch: processing (`fund_change=N`, the refund query shows no
    REFUND_SUCCESS until it is done, then the notification), fail and refuse (business codes)."""
    c = f"IOPC{run}"
    alipay.api_alipay_trade_precreate(subject="学费", out_trade_no=c, total_amount="10.00")
    sb.pay("alipay", c)
    verified(alipay, notification(inbox))
    # refund_delay_s 100 at the test's time scale (0.01): done after a second.
    sb.behaviour("alipay", {"refund": "processing", "refund_delay_s": 100})
    r = alipay.api_alipay_trade_refund("10.00", out_trade_no=c, out_request_no=f"{c}R1")
    check(r["code"] == "10000" and r["fund_change"] == "N" and r["refund_fee"] == "0.00", f"processing refund: {r}")
    r = alipay.api_alipay_trade_fastpay_refund_query(f"{c}R1", out_trade_no=c)
    check(r["code"] == "10000" and "refund_status" not in r, f"refund query while processing: {r}")
    n = notification(inbox)
    verified(alipay, n)
    check(n["out_biz_no"] == f"{c}R1" and n["refund_fee"] == "10.00" and n["trade_status"] == "TRADE_CLOSED", f"refund notification: {n}")
    check(n["gmt_close"] == n["gmt_refund"], f"a whole refund closes the trade: {n}")
    r = alipay.api_alipay_trade_fastpay_refund_query(f"{c}R1", out_trade_no=c)
    check(r.get("refund_status") == "REFUND_SUCCESS" and r["refund_amount"] == "10.00", f"refund query when done: {r}")
    check(alipay.api_alipay_trade_query(out_trade_no=c)["trade_status"] == "TRADE_CLOSED", "wholly refunded trade not TRADE_CLOSED")

    d = f"IOPD{run}"
    alipay.api_alipay_trade_precreate(subject="学费", out_trade_no=d, total_amount="5.00")
    sb.pay("alipay", d)
    verified(alipay, notification(inbox))
    for mode, code in (("fail", "ACQ.TRADE_NOT_ALLOW_REFUND"), ("refuse", "ACQ.SELLER_BALANCE_NOT_ENOUGH")):
        sb.behaviour("alipay", {"refund": mode})
        r = alipay.api_alipay_trade_refund("1.00", out_trade_no=d, out_request_no=f"{d}{mode}")
        check(r["code"] == "40004" and r["sub_code"] == code, f"refund: {mode}: {r}")
        r = alipay.api_alipay_trade_fastpay_refund_query(f"{d}{mode}", out_trade_no=d)
        check(r["code"] == "10000" and "refund_status" not in r, f"query of a refused refund: {r}")
    sb.behaviour("alipay", {"refund": "instant"})


if __name__ == "__main__":
    try:
        main()
    except AliPayException as e:
        fail(f"the SDK raised: {e}")
    except (KeyError, json.JSONDecodeError) as e:
        fail(f"unexpected answer: {e!r}")
    sys.exit(0)
