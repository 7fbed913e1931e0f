//! Input checks of the administration tools, run before anything is sent to the catalog: a
//! mistake is `invalid_argument` naming it. The catalog has the last word on every value;
//! these catch typos and malformed input early. A valid user name is also noted as the call's
//! audit target (`aws::target`).

use crate::aws;
use crate::tool_error::ToolError;

/// Largest SSO configuration accepted.
const MAX_SSO_CONFIG_BYTES: usize = 256 * 1024;
/// Most roles in one call.
const MAX_ROLES: usize = 64;

pub(super) fn check_user_name(name: &str) -> Result<(), ToolError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 150
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._@+-".contains(c));
    if ok {
        aws::target(format!("user:{name}"));
        Ok(())
    } else {
        Err(ToolError::invalid_argument(format!(
            "user name {name:?} must be 1 to 150 letters, digits or ._@+-"
        )))
    }
}

pub(super) fn check_role_name(what: &str, name: &str) -> Result<(), ToolError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._@+=,-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid_argument(format!(
            "{what} {name:?} is not a role name (1 to 128 letters, digits or ._@+=,-)"
        )))
    }
}

/// A list of roles: at most [`MAX_ROLES`], no repeats; empty only where `may_be_empty`
/// (extra roles may be cleared; adding or removing nothing is a mistake).
pub(super) fn check_roles(
    what: &str,
    roles: &[String],
    may_be_empty: bool,
) -> Result<(), ToolError> {
    if (roles.is_empty() && !may_be_empty) || roles.len() > MAX_ROLES {
        let least = if may_be_empty { 0 } else { 1 };
        return Err(ToolError::invalid_argument(format!(
            "{what} must name {least} to {MAX_ROLES} roles"
        )));
    }
    for (i, role) in roles.iter().enumerate() {
        check_role_name(&format!("{what}[{i}]"), role)?;
        if roles[..i].contains(role) {
            return Err(ToolError::invalid_argument(format!(
                "{what} names {role:?} twice"
            )));
        }
    }
    Ok(())
}

/// An email's shape: one `@`, a local part, a domain with a dot, no spaces. The catalog has
/// the last word; this catches typos before anything is sent.
pub(super) fn check_email(email: &str) -> Result<(), ToolError> {
    let bad = || ToolError::invalid_argument(format!("{email:?} is not an email address"));
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let labels_ok = domain.split('.').all(|l| !l.is_empty());
    if local.is_empty() || domain.contains('@') || !domain.contains('.') || !labels_ok {
        return Err(bad());
    }
    Ok(())
}

/// An SSO configuration must be one YAML mapping (the catalog validates its content).
pub(super) fn check_sso_config(text: &str) -> Result<(), ToolError> {
    let bad = |m: String| ToolError::invalid_argument(format!("config: {m}"));
    if text.trim().is_empty() {
        return Err(bad(
            "is empty (to remove the configuration use admin_sso_config_remove)".into(),
        ));
    }
    if text.len() > MAX_SSO_CONFIG_BYTES {
        return Err(bad(format!("larger than {MAX_SSO_CONFIG_BYTES} bytes")));
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(text)
        .map_err(|e| bad(format!("not valid YAML: {e}")))?;
    match docs.as_slice() {
        [yaml_rust2::Yaml::Hash(_)] => Ok(()),
        [_] => Err(bad("must be a YAML mapping".into())),
        _ => Err(bad("must be exactly one YAML document".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_shape() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            check_email(ok).expect(ok);
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@@b.co", "a b@c.co", "a@b..co", "a@.co",
        ] {
            check_email(bad).expect_err(bad);
        }
    }

    #[test]
    fn sso_configs_must_be_one_yaml_mapping() {
        check_sso_config("version: \"1.0\"\nmappings: []\n").expect("mapping");
        for bad in ["", "a: [", "- a\n- b\n", "a: 1\n---\nb: 2\n"] {
            check_sso_config(bad).expect_err(bad);
        }
    }
}
