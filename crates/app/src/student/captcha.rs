//! Image captchas: single use, expiring after five minutes, answered case-insensitively.

use crate::Context;
use crate::error::Error;
use campuspay_store::StoreError;

pub const TTL_S: i64 = 300;

pub struct NewCaptcha {
    pub id: String,
    /// `data:image/png;base64,…`, ready for an `<img src>`.
    pub image: String,
}

pub async fn create(ctx: &Context) -> Result<NewCaptcha, Error> {
    let (answer, png_b64) = tokio::task::spawn_blocking(|| {
        let mut c = captcha::Captcha::new();
        // Letters that are easy to confuse (0/O, 1/l/I) are left out of the alphabet.
        c.set_chars(&"abcdefghkmnpqrstuvwxyz23456789".chars().collect::<Vec<_>>())
            .add_chars(4)
            .apply_filter(captcha::filters::Noise::new(0.25))
            .apply_filter(captcha::filters::Wave::new(2.0, 8.0))
            .view(160, 60);
        (c.chars_as_string(), c.as_base64())
    })
    .await
    .map_err(|_| Error::internal())?;
    let png_b64 = png_b64.ok_or_else(Error::internal)?;
    let id = crate::crypto::random_token(16);
    ctx.store.write(async |tx| ctx.store.insert_captcha(tx, &id, &answer.to_lowercase(), campuspay_store::db_now() + TTL_S).await).await?;
    Ok(NewCaptcha { id, image: format!("data:image/png;base64,{png_b64}") })
}

/// Uses up the captcha and says whether `answer` was right.
pub async fn check(ctx: &Context, id: &str, answer: &str) -> Result<bool, StoreError> {
    if id.is_empty() || id.len() > 64 {
        return Ok(false);
    }
    Ok(match ctx.store.write(async |tx| ctx.store.take_captcha(tx, id).await).await? {
        Some(expected) => crate::crypto::constant_time_eq(expected.as_bytes(), answer.trim().to_lowercase().as_bytes()),
        None => false,
    })
}
