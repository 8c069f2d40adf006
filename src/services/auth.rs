//! Credential injection (`auth:` of a service): the header a request carries.

use std::collections::HashMap;

use base64::Engine;

use crate::http_client::Request;
use crate::model::{Auth, Service};

/// Add the auth header of `svc` to `req`, with the credential's value from
/// `secrets` (the step's fetched secrets).
pub(crate) fn authorize(
    svc: &Service,
    secrets: &HashMap<String, String>,
    req: &mut Request,
) -> Result<(), String> {
    let Some(cred) = svc.auth.credential() else {
        return Ok(());
    };
    let Some(value) = secrets.get(cred) else {
        return Err(format!(
            "credential `{cred}` of service `{}` was not fetched",
            svc.id
        ));
    };
    if let Some(h) = header(&svc.auth, value) {
        req.headers.push(h);
    }
    Ok(())
}

/// The header for `auth`, given the credential's value. `basic` takes
/// `user:password` (a value without `:` is a user with no password).
pub(crate) fn header(auth: &Auth, credential: &str) -> Option<(String, String)> {
    match auth {
        Auth::None => None,
        Auth::Bearer { .. } => Some(("authorization".into(), format!("Bearer {credential}"))),
        Auth::Basic { .. } => {
            let pair = if credential.contains(':') {
                credential.to_string()
            } else {
                format!("{credential}:")
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(pair.as_bytes());
            Some(("authorization".into(), format!("Basic {b64}")))
        }
        Auth::ApiKey { header, .. } => Some((header.clone(), credential.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind() {
        let c = || "x".to_string();
        assert_eq!(
            header(&Auth::Bearer { credential: c() }, "tok"),
            Some(("authorization".into(), "Bearer tok".into()))
        );
        assert_eq!(
            header(&Auth::Basic { credential: c() }, "al:pw"),
            Some(("authorization".into(), "Basic YWw6cHc=".into()))
        );
        assert_eq!(
            header(&Auth::Basic { credential: c() }, "al"),
            Some(("authorization".into(), "Basic YWw6".into()))
        );
        assert_eq!(
            header(
                &Auth::ApiKey {
                    header: "X-Key".into(),
                    credential: c()
                },
                "k"
            ),
            Some(("X-Key".into(), "k".into()))
        );
        assert_eq!(header(&Auth::None, "k"), None);
    }
}
