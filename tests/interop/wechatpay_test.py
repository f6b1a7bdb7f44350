"""WeChat Pay v3 interop: the unmodified third-party SDK wechatpayv3 (PyPI, pinned 2.0.4 in
.ci/run) against a running `campuspay sandbox`.

Run by scripts/test after `cargo test` has built target/debug/campuspay (or set CAMPUSPAY_BIN):
    python3 -m unittest tests/interop/wechatpay_test.py

What the SDK does that is not the published protocol, and how the test meets it without
patching the SDK:

* Its gateway is hard-coded (https://api.mch.weixin.qq.com, no constructor parameter): the test
  sets the attribute `_core._gate_way` after construction, the only way short of a patch.
* It signs only the path it is given (`/v3/...`), never the path it sends: with a gateway that
  has a path (…/sandbox/wechatpay) it sends /sandbox/wechatpay/v3/… but signs /v3/…. The
  published rule signs the request's absolute URL minus the host (获取请求的绝对URL，并去除域名
  部分得到参与签名的URL), and the simulator checks exactly that, so the test points the SDK at
  the root of the sandbox's listener, where `campuspay sandbox` serves WeChat's API at /v3/…
  as the real host does. The test also shows the prefixed gateway being refused (401
  SIGN_ERROR): the simulator follows the documentation, not the SDK.
* `download_bill` neither inflates a GZIP bill nor checks `hash_value`: the test does both, with
  the hash over the inflated bill, as the published field says (原始账单（gzip需要解压缩）的摘要值).
* Construction would fetch platform certificates from the real host unless given the platform
  public key and its id (微信支付公钥 mode): the test passes them from `sandbox-credentials`.
"""

import datetime
import gzip
import hashlib
import http.server
import json
import os
import queue
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from wechatpayv3 import WeChatPay, WeChatPayType

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CAMPUSPAY_BIN", os.path.join(ROOT, "target", "debug", "campuspay"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Notifications(http.server.BaseHTTPRequestHandler):
    """The merchant's notify endpoint: keeps each POST (headers, body) and answers 204."""

    received = queue.Queue()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Notifications.received.put((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class WechatpayV3AgainstTheSandbox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(BIN, os.X_OK):
            raise RuntimeError(f"{BIN} is missing: build it first (cargo build -p campuspay-server)")
        # A relative --data-dir, run from a temporary folder: the credentials must still name
        # the key files by absolute paths.
        cls.work = tempfile.mkdtemp(prefix="campuspay-interop-")
        out = subprocess.run([BIN, "sandbox-credentials", "--data-dir", "data"], cwd=cls.work, check=True, capture_output=True, text=True)
        cls.creds = json.loads(out.stdout)["wechatpay"]
        for key in ("merchant_private_key_file", "platform_public_key_file"):
            assert os.path.isabs(cls.creds[key]), f"{key} is not absolute: {cls.creds[key]}"
        cls.port = free_port()
        # Provider time 100 times faster: a refund processes for 1.2 s instead of 120 s.
        cls.sandbox = subprocess.Popen(
            [BIN, "sandbox", "--listen", f"127.0.0.1:{cls.port}", "--data-dir", "data", "--time-scale", "0.01"],
            cwd=cls.work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or cls.sandbox.poll() is not None:
                    cls.sandbox.kill()
                    raise RuntimeError("campuspay sandbox did not start")
                time.sleep(0.1)
        cls.notify_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Notifications)
        threading.Thread(target=cls.notify_server.serve_forever, daemon=True).start()
        cls.notify_url = f"http://127.0.0.1:{cls.notify_server.server_address[1]}/notify"
        cls.base = f"http://127.0.0.1:{cls.port}"
        cls.wxpay = cls.sdk(cls.base)

    @classmethod
    def tearDownClass(cls):
        cls.notify_server.shutdown()
        cls.sandbox.terminate()
        cls.sandbox.wait(timeout=10)

    @classmethod
    def sdk(cls, gateway):
        c = cls.creds
        with open(c["merchant_private_key_file"]) as f:
            private_key = f.read()
        with open(c["platform_public_key_file"]) as f:
            public_key = f.read()
        wxpay = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=c["mchid"],
            private_key=private_key,
            cert_serial_no=c["merchant_serial_no"],
            appid=c["appid"],
            apiv3_key=c["apiv3_key"],
            notify_url=cls.notify_url,
            public_key=public_key,
            public_key_id=c["platform_public_key_id"],
        )
        # The SDK's gateway is hard-coded; this attribute is the only way to point it elsewhere.
        wxpay._core._gate_way = gateway
        return wxpay

    def notification(self, event_prefix, timeout=10):
        """The next notification whose event type starts with `event_prefix`, as the SDK's own
        callback() verifies and decrypts it."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            self.assertGreater(left, 0, f"no {event_prefix} notification within {timeout} s")
            headers, body = Notifications.received.get(timeout=left)
            result = self.wxpay.callback(headers, body)
            self.assertIsNotNone(result, f"callback() refused a notification: {body!r}")
            if result["event_type"].startswith(event_prefix):
                return result

    def sandbox_pays(self, out_trade_no):
        req = urllib.request.Request(f"{self.base}/sandbox/wechatpay/orders/{out_trade_no}/pay", method="POST", data=b"")
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def behaviour(self, patch):
        req = urllib.request.Request(
            f"{self.base}/sandbox/wechatpay/behaviour", method="PUT", data=json.dumps(patch).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req) as r:
            r.read()

    def test_every_operation_through_the_sdk(self):
        wx = self.wxpay
        no = "IOP" + str(int(time.time() * 1000))
        # Native create: the code URL is the simulator's cashier.
        code, message = wx.pay(description="2026学年学费", out_trade_no=no, amount={"total": 2400})
        self.assertEqual(code, 200, message)
        self.assertIn(f"/sandbox/wechatpay/cashier/{no}", json.loads(message)["code_url"])
        code, message = wx.query(out_trade_no=no)
        self.assertEqual((code, json.loads(message)["trade_state"]), (200, "NOTPAY"), message)
        # Paid at the simulator's own endpoint (as the cashier page's button does).
        paid = self.sandbox_pays(no)
        self.assertEqual(paid["result"], "paid", paid)
        transaction_id = paid["transaction_id"]
        n = self.notification("TRANSACTION.")
        self.assertEqual(n["event_type"], "TRANSACTION.SUCCESS")
        self.assertEqual((n["resource"]["out_trade_no"], n["resource"]["trade_state"]), (no, "SUCCESS"))
        self.assertEqual(n["resource"]["transaction_id"], transaction_id)
        code, message = wx.query(transaction_id=transaction_id)
        self.assertEqual(code, 200, message)
        t = json.loads(message)
        self.assertEqual((t["out_trade_no"], t["trade_state"], t["amount"]["total"]), (no, "SUCCESS", 2400))
        # Close: an unpaid order closes (204); a paid one cannot.
        other = no + "C"
        self.assertEqual(wx.pay(description="住宿费", out_trade_no=other, amount={"total": 100})[0], 200)
        self.assertEqual(wx.close(out_trade_no=other)[0], 204)
        self.assertEqual(json.loads(wx.query(out_trade_no=other)[1])["trade_state"], "CLOSED")
        code, message = wx.close(out_trade_no=no)
        self.assertEqual((code, json.loads(message)["code"]), (400, "ORDERPAID"), message)
        # Refund: PROCESSING first (the real platform's usual answer), final later.
        code, message = wx.refund(out_refund_no=no + "R1", amount={"refund": 1000, "total": 2400, "currency": "CNY"}, out_trade_no=no)
        self.assertEqual(code, 200, message)
        r = json.loads(message)
        self.assertEqual((r["status"], r["amount"]["refund"]), ("PROCESSING", 1000), message)
        code, message = wx.query_refund(out_refund_no=no + "R1")
        self.assertEqual((code, json.loads(message)["status"]), (200, "PROCESSING"), message)
        n = self.notification("REFUND.")
        self.assertEqual(n["event_type"], "REFUND.SUCCESS")
        res = n["resource"]
        self.assertEqual((res["out_refund_no"], res["refund_status"], res["amount"]["refund"]), (no + "R1", "SUCCESS", 1000))
        self.assertEqual(res["refund_id"], r["refund_id"])
        code, message = wx.query_refund(out_refund_no=no + "R1")
        q = json.loads(message)
        self.assertEqual((code, q["status"]), (200, "SUCCESS"), message)
        self.assertIn("success_time", q)
        # A refund that fails for good: PROCESSING, then REFUND.CLOSED, and the query says so.
        self.behaviour({"refund": "fail"})
        try:
            code, message = wx.refund(out_refund_no=no + "R3", amount={"refund": 500, "total": 2400, "currency": "CNY"}, out_trade_no=no)
            self.assertEqual((code, json.loads(message)["status"]), (200, "PROCESSING"), message)
            n = self.notification("REFUND.")
            self.assertEqual((n["event_type"], n["resource"]["refund_status"]), ("REFUND.CLOSED", "CLOSED"))
            self.assertNotIn("success_time", n["resource"])
            self.assertEqual(json.loads(wx.query_refund(out_refund_no=no + "R3")[1])["status"], "CLOSED")
        finally:
            self.behaviour({"refund": "processing"})
        # More than is left is refused with the published code.
        code, message = wx.refund(out_refund_no=no + "R2", amount={"refund": 2000, "total": 2400, "currency": "CNY"}, out_trade_no=no)
        self.assertEqual((code, json.loads(message)["code"]), (400, "INVALID_REQUEST"), message)
        # Trade bill, GZIP by the SDK's default; download_bill returns the raw bytes.
        today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).strftime("%Y-%m-%d")
        code, message = wx.trade_bill(bill_date=today)
        self.assertEqual(code, 200, message)
        bill = json.loads(message)
        self.assertEqual(bill["hash_type"], "SHA1")
        code, raw = wx.download_bill(bill["download_url"])
        self.assertEqual(code, 200)
        self.assertEqual(raw[:2], b"\x1f\x8b", "a gzip file")
        text = gzip.decompress(raw)
        self.assertEqual(hashlib.sha1(text).hexdigest(), bill["hash_value"], "the hash is of the inflated bill")
        text = text.decode("utf-8")
        self.assertIn(transaction_id, text)
        self.assertIn(no + "R1", text)

    def test_a_gateway_with_a_path_is_refused_because_the_sdk_signs_less_than_it_sends(self):
        # The documented rule, not the SDK's: it sends /sandbox/wechatpay/v3/… but signs /v3/….
        prefixed = self.sdk(self.base + "/sandbox/wechatpay")
        code, message = prefixed.query(out_trade_no="IOPNOSUCHORDER")
        self.assertEqual((code, json.loads(message)["code"]), (401, "SIGN_ERROR"), message)

    def test_every_answer_names_its_signature_type_even_a_refusal(self):
        # The SDK raises on any 2xx answer or notification without Wechatpay-Signature-Type
        # (the test above would have failed); refusals carry it as well.
        req = urllib.request.Request(f"{self.base}/v3/pay/transactions/out-trade-no/X?mchid=1")
        try:
            urllib.request.urlopen(req)
            self.fail("an unsigned request was answered")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 401)
            self.assertEqual(e.headers["Wechatpay-Signature-Type"], "WECHATPAY2-SHA256-RSA2048")
            e.close()


if __name__ == "__main__":
    unittest.main()
