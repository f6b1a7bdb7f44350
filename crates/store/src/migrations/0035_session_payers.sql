-- The payer's id at WeChat (the openid under the school's official account) that WeChat's
-- web sign-in (snsapi_base) gave this session's browser. JSAPI payments need it. It belongs
-- to the WeChat user holding the browser, not to the student record, so it lives and dies
-- with the session.
CREATE TABLE session_payers (
    token_hash TEXT NOT NULL PRIMARY KEY REFERENCES sessions(token_hash),
    openid TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
