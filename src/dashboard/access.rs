//! Who may see the dashboard and who may brake from it: the session derived from the token, the
//! cookie, the `Host` check, the security headers, and the CSRF-checked halt and resume.

use super::*;

pub(super) fn derive(token: &Token, purpose: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.as_str().as_bytes()).expect("hmac takes any key");
    mac.update(purpose.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub(super) use crate::ledger::remote::same_secret as same;

/// Every value of the cookies named `name`.
pub(super) fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).filter_map(
        move |c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        },
    )
}

pub(super) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "401 Unauthorized: open the dashboard with the URL skinbot printed at start (`/?token=…`; the token is also \
         in <state>/control.json)\n",
    )
        .into_response()
}

/// A request must name this dashboard in its `Host` (127.0.0.1, localhost or [::1] with its port)
/// unless `allow_remote` is set: a web page on another name that resolves to 127.0.0.1 (DNS
/// rebinding) is its own origin to the browser, and is answered 421 here.
pub(super) async fn require_host(State(app): State<App>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !app.host_allowed(host) {
        tracing::warn!(host, "a dashboard request for another host was refused");
        return (
            StatusCode::MISDIRECTED_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "421 Misdirected Request: open the dashboard at 127.0.0.1, localhost or [::1] with its port\n",
        )
            .into_response();
    }
    next.run(req).await
}

pub(super) async fn require_session(State(app): State<App>, req: Request, next: Next) -> Response {
    if !app.authorized(req.headers()) {
        return unauthorized();
    }
    next.run(req).await
}

/// Nothing is loaded from elsewhere, nothing inline runs, no other site may frame the page, and
/// nothing is cached (the pages hold the ledger).
pub(super) async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}

#[derive(Deserialize)]
pub(super) struct BrakeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// A POST a browser may not have been tricked into: with the session cookie it needs the page's
/// CSRF token (a form field or header) and, when the browser names the page it came from, that
/// page must be the dashboard's own. (The token header alone is a script's: browsers never send it
/// across sites without asking.)
pub(super) fn check_post(app: &App, headers: &HeaderMap, form_csrf: &str) -> Result<(), &'static str> {
    let by_header = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|t| app.0.token.matches(t));
    if by_header {
        return Ok(());
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let ok = match &app.0.hosts {
            // The dashboard's own names (the Host was checked against the same list).
            Some(hosts) => hosts.iter().any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}"))),
            // `allow_remote`: the name the request came for, http or https behind the operator's
            // own TLS proxy.
            None => {
                let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
                !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
            }
        };
        if !ok {
            return Err("a request from another site");
        }
    }
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|s| s != "same-origin" && s != "none") {
        return Err("a request from another site");
    }
    let given = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or(form_csrf);
    if !same(given, &app.0.csrf) {
        return Err("the form's CSRF token is missing or wrong; reload the dashboard");
    }
    Ok(())
}

pub(super) async fn halt(State(app): State<App>, headers: HeaderMap, Form(form): Form<BrakeForm>) -> Response {
    let reason = form.reason.trim();
    let reason = if reason.is_empty() { "halted from the dashboard" } else { reason };
    brake(&app, &headers, &form.csrf, true, reason.chars().take(500).collect()).await
}

pub(super) async fn resume(State(app): State<App>, headers: HeaderMap, Form(form): Form<BrakeForm>) -> Response {
    brake(&app, &headers, &form.csrf, false, "resumed".into()).await
}

/// Records a halt or resume in the ledger's halts tree, as `skinbot halt` does: the engine reads it
/// before every order.
pub(super) async fn brake(app: &App, headers: &HeaderMap, csrf: &str, halted: bool, reason: String) -> Response {
    if let Err(why) = check_post(app, headers, csrf) {
        tracing::warn!("a {} from the dashboard was refused: {why}", if halted { "halt" } else { "resume" });
        let body = format!("403 Forbidden: {why}\n");
        return (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response();
    }
    let event = HaltEvent { at: chrono::Utc::now(), halted, kind: "operator".into(), reason, by: "dashboard".into() };
    tracing::info!(halted, reason = %event.reason, "{} from the dashboard", if halted { "halt" } else { "resume" });
    let ledger = app.0.source.ledger.clone();
    if let Err(e) = blocking(move || ledger.record_halt(&event)).await {
        return e.into_response();
    }
    let _ = app.0.live.send("halt");
    if headers.contains_key("x-dashboard-fetch") {
        StatusCode::NO_CONTENT.into_response()
    } else {
        Redirect::to("/").into_response()
    }
}
