//! What a page handler starts from, resolved before it runs: the school of the page's path
//! (`/s/{code}/…`), the logged-in student of that school, a form whose CSRF token checks out.
//! Each rejects with the page to show instead — the school-not-found page, a redirect to the
//! login or to the forced password change, "this page has expired" — so handlers hold no
//! session or tenant preamble.

use super::{csrf_refused, error_page};
use crate::AppState;
use crate::web::{AnySession, Client};
use axum::extract::{Form, FromRequest, FromRequestParts, OptionalFromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::{Error, Lang};
use campuspay_store::schools::School;
use campuspay_store::sessions::SessionRow;
use serde::de::DeserializeOwned;

/// The school named by the path, and who asks.
pub struct SchoolPage {
    pub school: School,
    pub client: Client,
}

/// The `{code}` segment of the matched route.
async fn school_code(parts: &mut Parts, state: &AppState) -> Option<String> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    params.iter().find(|(k, _)| *k == "code").map(|(_, v)| v.to_string())
}

impl FromRequestParts<AppState> for SchoolPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Ok(client) = Client::from_request_parts(parts, state).await;
        let lang = client.lang;
        let Some(code) = school_code(parts, state).await else {
            return Err(error_page(&Error::unknown_school(), lang));
        };
        match state.store.school_by_code(&code).await {
            Ok(Some(school)) => Ok(SchoolPage { school, client }),
            Ok(None) => Err(error_page(&Error::unknown_school(), lang)),
            Err(e) => Err(error_page(&e.into(), lang)),
        }
    }
}

/// A live session of the page's school (another school's session counts as none), or `None`.
async fn session_of(parts: &mut Parts, state: &AppState, school: &School, lang: Lang) -> Result<Option<SessionRow>, Response> {
    match <AnySession as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state).await {
        Ok(s) => Ok(s.map(|AnySession(s)| s).filter(|s| s.school_id == school.id)),
        Err(e) => Err(super::message_page(e.status, e.message(lang), lang)),
    }
}

/// The school's page for someone who may or may not be logged in there.
pub struct MaybeStudentPage {
    pub school: School,
    pub session: Option<SessionRow>,
    pub client: Client,
}

impl FromRequestParts<AppState> for MaybeStudentPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let SchoolPage { school, client } = SchoolPage::from_request_parts(parts, state).await?;
        let session = session_of(parts, state, &school, client.lang).await?;
        Ok(MaybeStudentPage { school, session, client })
    }
}

/// A logged-in student of the page's school, whatever they still have to do first (the
/// forced password change is the one page that takes this).
pub struct AnyStudentPage {
    pub school: School,
    pub session: SessionRow,
    pub client: Client,
}

impl FromRequestParts<AppState> for AnyStudentPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let MaybeStudentPage { school, session, client } = MaybeStudentPage::from_request_parts(parts, state).await?;
        match session {
            Some(session) => Ok(AnyStudentPage { school, session, client }),
            None => Err(Redirect::to(&format!("/s/{}/", school.code)).into_response()),
        }
    }
}

/// A logged-in student of the page's school who may use every page: one who must still
/// change the password is sent there first.
pub struct StudentPage {
    pub school: School,
    pub session: SessionRow,
    pub client: Client,
}

/// What a posted form needs of its page: the session whose CSRF token it must carry.
pub trait SessionPage {
    fn session(&self) -> &SessionRow;
    fn lang(&self) -> Lang;
}

impl SessionPage for StudentPage {
    fn session(&self) -> &SessionRow {
        &self.session
    }
    fn lang(&self) -> Lang {
        self.client.lang
    }
}

impl SessionPage for AnyStudentPage {
    fn session(&self) -> &SessionRow {
        &self.session
    }
    fn lang(&self) -> Lang {
        self.client.lang
    }
}

impl FromRequestParts<AppState> for StudentPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let AnyStudentPage { school, session, client } = AnyStudentPage::from_request_parts(parts, state).await?;
        if session.must_change_password {
            return Err(Redirect::to(&format!("/s/{}/password", school.code)).into_response());
        }
        Ok(StudentPage { school, session, client })
    }
}

/// A form that carries the session's CSRF token.
pub trait CsrfForm {
    fn csrf(&self) -> &str;
}

/// A form posted from a page `P` of a logged-in student, refused unless its CSRF token is the
/// session's: another site cannot make a logged-in browser submit it.
pub struct Posted<P, T> {
    pub page: P,
    pub form: T,
}

/// A form of a student who may use every page.
pub type StudentForm<T> = Posted<StudentPage, T>;
/// A form of a student who may still have to change the password (that very form).
pub type AnyStudentForm<T> = Posted<AnyStudentPage, T>;

impl<P, T> FromRequest<AppState> for Posted<P, T>
where
    P: FromRequestParts<AppState, Rejection = Response> + SessionPage + Send,
    T: DeserializeOwned + CsrfForm + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let page = P::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        if !super::csrf_ok(page.session(), form.csrf()) {
            return Err(csrf_refused(page.lang()));
        }
        Ok(Posted { page, form })
    }
}

/// What a form posted from an office page needs of that page: the staff session's CSRF token,
/// and the page to show when the form does not carry it (the office's own 403 page).
pub trait StaffFormPage {
    fn csrf_token(&self) -> &str;
    fn csrf_refused(&self) -> Response;
}

/// The office's twin of [`Posted`]: a form posted from an office page `P`, refused (403,
/// nothing done) unless its `csrf` field is the staff session's token. The office cookie is
/// `SameSite=Strict` and `app::guard_forms` refuses cross-site posts; this is the third lock,
/// for a browser that sends neither `Sec-Fetch-Site` nor `Origin`.
pub struct OfficePosted<P, T> {
    pub page: P,
    pub form: T,
}

impl<P, T> FromRequest<AppState> for OfficePosted<P, T>
where
    P: FromRequestParts<AppState, Rejection = Response> + StaffFormPage + Send,
    T: DeserializeOwned + CsrfForm + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let page = P::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        if !staff_csrf_ok(page.csrf_token(), form.csrf()) {
            return Err(page.csrf_refused());
        }
        Ok(OfficePosted { page, form })
    }
}

/// Whether a posted token is the staff session's, compared in constant time; an empty token
/// (a form without the field) never is.
pub fn staff_csrf_ok(expected: &str, posted: &str) -> bool {
    !posted.is_empty() && campuspay_app::crypto::constant_time_eq(expected.as_bytes(), posted.as_bytes())
}
