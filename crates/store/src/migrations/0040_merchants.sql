-- A school's merchant configuration per channel (wechatpay, alipay, unionpay_gateway,
-- unionpay_qr), as the office's form keeps it: the plain fields (ids, serial numbers, public
-- keys, addresses) as a JSON object of strings, and each secret field (private keys, the APIv3
-- key, the AppSecret) only as an AES-256-GCM ciphertext with its key id and when it was last
-- replaced. Replaces `school_channels`, whose plaintext rows are sealed into this table at
-- start-up (and then deleted) once a secret key is configured.
CREATE TABLE merchant_configs (
    school_id BIGINT NOT NULL REFERENCES schools (id),
    channel TEXT NOT NULL,
    fields TEXT NOT NULL,
    secrets TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT REFERENCES staff (id),
    PRIMARY KEY (school_id, channel)
);
