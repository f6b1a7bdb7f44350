//! The only I/O of the crate: sending a [`PreparedRequest`] and handing back the raw response.
//!
//! Real providers are HTTPS: the crate depends on reqwest with rustls (on aws-lc-rs) itself, so
//! it needs no other crate to enable TLS. Plain HTTP works too (the sandbox).

use crate::ChannelError;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// A request ready to go: everything signed, nothing left to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A response as it came, for the provider's parser to verify.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

/// A client with the timeouts we want for provider calls.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(20)).build().unwrap_or_default()
}

/// Like [`send`], but keeps the body as bytes (statement files: hashed or unzipped as served).
pub async fn send_bytes(client: &reqwest::Client, req: PreparedRequest) -> Result<(u16, HeaderMap, Vec<u8>), ChannelError> {
    let resp = start(client, req).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(|e| ChannelError::Transport(e.to_string()))?;
    Ok((status, headers, body.to_vec()))
}

async fn start(client: &reqwest::Client, req: PreparedRequest) -> Result<reqwest::Response, ChannelError> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|_| ChannelError::Config("HTTP 方法有误".into()))?;
    let mut rb = client.request(method, &req.url);
    for (k, v) in req.headers {
        rb = rb.header(k, v);
    }
    if !req.body.is_empty() {
        rb = rb.body(req.body);
    }
    rb.send().await.map_err(|e| ChannelError::Transport(e.to_string()))
}

pub async fn send(client: &reqwest::Client, req: PreparedRequest) -> Result<RawResponse, ChannelError> {
    let resp = start(client, req).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.map_err(|e| ChannelError::Transport(e.to_string()))?;
    Ok(RawResponse { status, headers, body })
}
