//! Tenants and their credentials.
//!
//! A tenant owns site keys (public, write-only, each bound to the origins whose
//! pages may use it), users with tokens (secret; `agent` reads trails, `admin`
//! also reads the activity log and deletes) and server keys (secret; the
//! platform posts its own audit records with them). They come from the tenants
//! file (TOML, `[[tenant]]` tables). Without one, a demo tenant is created and
//! its credentials written to `<data_dir>/demo-tenant.toml` (mode 0600).
//!
//! Secrets are kept only as SHA-256 digests and compared in constant time
//! against every candidate, so neither the answer time nor the memory of the
//! process gives them away; they are never logged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::{TenantId, UserId};
use subtle::ConstantTimeEq;

/// Shortest secret accepted: 128 bits of hex. Shorter tokens can be guessed.
pub const MIN_SECRET_LEN: usize = 32;

/// The site key the demo pages in `www/` embed.
pub const DEMO_SITE_KEY: &str = "pk_demo";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsFile {
    #[serde(rename = "tenant", default)]
    pub tenants: Vec<TenantConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub id: TenantId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub site_keys: Vec<SiteKeyConfig>,
    #[serde(default)]
    pub users: Vec<UserConfig>,
    #[serde(default)]
    pub server_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteKeyConfig {
    pub key: String,
    /// Origins whose pages may send with this key: `https://shop.example`,
    /// `http://localhost:*` (any port) or `*` (any origin).
    pub origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub id: UserId,
    pub role: Role,
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads session trails.
    Agent,
    /// Also reads the activity log, deletes sessions.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub user: UserId,
    pub role: Role,
}

/// A site key's tenant and allowed origins.
#[derive(Debug, Clone)]
pub struct SiteKey {
    pub tenant: TenantId,
    pub origins: Vec<String>,
}

/// Every tenant's credentials, ready for lookups.
#[derive(Debug)]
pub struct Tenants {
    site_keys: HashMap<String, SiteKey>,
    users: Vec<([u8; 32], Principal)>,
    server_keys: Vec<([u8; 32], TenantId)>,
    /// Set when running the generated demo tenant: where its file is.
    pub demo_file: Option<PathBuf>,
    demo: Option<TenantConfig>,
    /// Whether `GET /api/v1/demo/credentials` may hand out the demo tokens:
    /// only while the collector listens on loopback (set at start-up).
    pub demo_credentials: bool,
    /// How many tenants the file defines.
    pub count: usize,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Finds the entry whose digest equals `secret`'s, looking at every entry so
/// the time taken does not depend on which one (if any) matched.
fn find<'a, T>(entries: &'a [([u8; 32], T)], secret: &str) -> Option<&'a T> {
    let d = digest(secret);
    let mut found = None;
    for (h, v) in entries {
        if bool::from(h.ct_eq(&d)) {
            found = Some(v);
        }
    }
    found
}

/// Whether `origin` (as a browser sends it: `scheme://host[:port]`) matches
/// one of the patterns. `scheme://host:*` matches any port, the scheme's
/// default too: browsers leave a default port out of `Origin`
/// (`https://shop.example`, not `https://shop.example:443`).
pub fn origin_allowed(patterns: &[String], origin: &str) -> bool {
    patterns.iter().any(|p| {
        if p == "*" || p == origin {
            return true;
        }
        match p.strip_suffix(":*") {
            Some(base) => match origin.strip_prefix(base) {
                Some("") => true,
                Some(rest) => rest.strip_prefix(':').is_some_and(|port| {
                    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                }),
                None => false,
            },
            None => false,
        }
    })
}

fn check_origin_pattern(p: &str) -> anyhow::Result<()> {
    if p == "*" {
        return Ok(());
    }
    let base = p.strip_suffix(":*").unwrap_or(p);
    let Some((scheme, host)) = base.split_once("://") else {
        bail!(
            "origin {p:?} must look like https://host[:port] (or end in :* for any port, or be *)"
        );
    };
    if !matches!(scheme, "http" | "https") || host.is_empty() || host.contains('/') {
        bail!("origin {p:?} must look like https://host[:port] with no path");
    }
    // A browser's `Origin` is lower case and leaves the scheme's default port
    // out: written otherwise, the pattern would never match one.
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        bail!("origin {p:?} must be lower case, as browsers send it");
    }
    if !host.is_ascii() {
        bail!(
            "origin {p:?}: write the host in its ASCII (punycode, xn--…) form, as browsers send it"
        );
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    if host.ends_with(default_port) {
        bail!(
            "origin {p:?} names the default port, which browsers leave out: write {:?}",
            p.replacen(default_port, "", 1)
        );
    }
    Ok(())
}

impl Tenants {
    /// Validates a tenants file and indexes it.
    pub fn from_file(file: TenantsFile) -> anyhow::Result<Self> {
        let mut t = Tenants {
            site_keys: HashMap::new(),
            users: Vec::new(),
            server_keys: Vec::new(),
            demo_file: None,
            demo: None,
            demo_credentials: false,
            count: file.tenants.len(),
        };
        if file.tenants.is_empty() {
            bail!("no tenant is defined: add a [[tenant]] table (or run without a tenants file for the demo tenant)");
        }
        let mut seen = std::collections::HashSet::new();
        for tenant in &file.tenants {
            if !seen.insert(tenant.id.clone()) {
                bail!("tenant {} is defined twice", tenant.id);
            }
            let mut user_ids = std::collections::HashSet::new();
            for u in &tenant.users {
                // One id, one person: the activity log names users by id.
                if !user_ids.insert(&u.id) {
                    bail!("tenant {}: user {} is defined twice", tenant.id, u.id);
                }
            }
            for sk in &tenant.site_keys {
                if sk.key.is_empty() {
                    bail!("tenant {}: a site key is empty", tenant.id);
                }
                if sk.origins.is_empty() {
                    bail!(
                        "tenant {}: site key {:?} lists no origins, so every batch would be refused; list the sites' origins (or \"*\")",
                        tenant.id,
                        sk.key
                    );
                }
                for o in &sk.origins {
                    check_origin_pattern(o).with_context(|| format!("tenant {}", tenant.id))?;
                }
                let prev = t.site_keys.insert(
                    sk.key.clone(),
                    SiteKey {
                        tenant: tenant.id.clone(),
                        origins: sk.origins.clone(),
                    },
                );
                if prev.is_some() {
                    bail!("site key {:?} is defined twice", sk.key);
                }
            }
            for u in &tenant.users {
                if u.token.len() < MIN_SECRET_LEN {
                    bail!(
                        "tenant {}: the token of user {} is shorter than {MIN_SECRET_LEN} characters",
                        tenant.id,
                        u.id
                    );
                }
                t.users.push((
                    digest(&u.token),
                    Principal {
                        tenant: tenant.id.clone(),
                        user: u.id.clone(),
                        role: u.role,
                    },
                ));
            }
            for k in &tenant.server_keys {
                if k.len() < MIN_SECRET_LEN {
                    bail!(
                        "tenant {}: a server key is shorter than {MIN_SECRET_LEN} characters",
                        tenant.id
                    );
                }
                t.server_keys.push((digest(k), tenant.id.clone()));
            }
        }
        let mut all: Vec<&[u8; 32]> = t
            .users
            .iter()
            .map(|(h, _)| h)
            .chain(t.server_keys.iter().map(|(h, _)| h))
            .collect();
        all.sort();
        if all.windows(2).any(|w| w[0] == w[1]) {
            bail!("the same secret is used twice (tokens and server keys must all differ)");
        }
        Ok(t)
    }

    /// Reads and validates a tenants file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading tenants file {}", path.display()))?;
        // toml's own message quotes the line, tokens and keys included: this
        // one names where it is and what is wrong, and nothing of the line.
        let file: TenantsFile = toml::from_str(&text).map_err(|e| {
            let at = e.span().map_or_else(String::new, |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = before[line_start..].chars().count() + 1;
                format!(" at line {line}, column {column}")
            });
            anyhow::anyhow!(
                "parsing tenants file {}{at}: {}",
                path.display(),
                e.message()
            )
        })?;
        Self::from_file(file).with_context(|| format!("in tenants file {}", path.display()))
    }

    /// The demo tenant: loaded from `<data_dir>/demo-tenant.toml`, or created
    /// there (mode 0600) with fresh secrets on first start.
    pub fn demo(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("demo-tenant.toml");
        if !path.exists() {
            std::fs::create_dir_all(data_dir)?;
            let file = TenantsFile {
                tenants: vec![TenantConfig {
                    id: TenantId::parse("demo").expect("literal id is valid"),
                    name: "Demo tenant".into(),
                    site_keys: vec![SiteKeyConfig {
                        key: DEMO_SITE_KEY.into(),
                        origins: vec![
                            "http://127.0.0.1:*".into(),
                            "http://localhost:*".into(),
                            "http://[::1]:*".into(),
                        ],
                    }],
                    users: vec![
                        UserConfig {
                            id: UserId::parse("agent-demo").expect("literal id is valid"),
                            role: Role::Agent,
                            token: secret("at_")?,
                        },
                        UserConfig {
                            id: UserId::parse("admin-demo").expect("literal id is valid"),
                            role: Role::Admin,
                            token: secret("at_")?,
                        },
                    ],
                    server_keys: vec![secret("sk_")?],
                }],
            };
            let text = String::from("# cotrail demo tenant, generated on first start. Keep it secret: the tokens read every trail.\n# Run with --tenants FILE to use your own tenants instead.\n\n")
                + &toml::to_string_pretty(&file)?;
            write_private(&path, &text)?;
        }
        private_to_owner(&path)?;
        let mut t = Self::load(&path)?;
        let text = std::fs::read_to_string(&path)?;
        let file: TenantsFile = toml::from_str(&text)?;
        t.demo = file.tenants.into_iter().next();
        t.demo_file = Some(path);
        t.demo_credentials = true;
        Ok(t)
    }

    /// The demo tenant's configuration, when running it.
    pub fn demo_tenant(&self) -> Option<&TenantConfig> {
        self.demo.as_ref()
    }

    pub fn site_key(&self, key: &str) -> Option<&SiteKey> {
        self.site_keys.get(key)
    }

    /// The user a bearer token belongs to.
    pub fn user(&self, token: &str) -> Option<&Principal> {
        find(&self.users, token)
    }

    /// The tenant a server key belongs to.
    pub fn server_key(&self, key: &str) -> Option<&TenantId> {
        find(&self.server_keys, key)
    }
}

/// A random secret: `prefix` + 32 hex characters (128 bits).
fn secret(prefix: &str) -> anyhow::Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(String::from(prefix) + &hex::encode(b))
}

/// The demo file's tokens read every trail: one that other users of the
/// machine may read, or may have written (planting tokens they know), or
/// that another user owns, is refused rather than used. (Group read is
/// warned about only: volumes shared through a group, Kubernetes' `fsGroup`,
/// give every file its group's read.)
fn private_to_owner(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::metadata(path)?;
        let mode = meta.permissions().mode();
        let dir_owner = path
            .parent()
            .map(std::fs::metadata)
            .transpose()?
            .map(|m| m.uid());
        anyhow::ensure!(
            mode & 0o026 == 0 && dir_owner.is_none_or(|uid| uid == meta.uid()),
            "{} is open to other users of this machine (mode {:o}) or not owned by the data \
             directory's owner; its tokens read every trail. Run `chmod 600` on it, or delete \
             it to get new tokens",
            path.display(),
            mode & 0o777
        );
        warn_if_group_readable(path, mode);
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A file of secrets that its group may read is worth a line in the log.
#[cfg(unix)]
fn warn_if_group_readable(path: &Path, mode: u32) {
    if mode & 0o040 != 0 {
        tracing::warn!(
            file = %path.display(),
            mode = format!("{:o}", mode & 0o777),
            "a file of tokens is readable by its group: run `chmod 600` on it unless the group is this collector's alone"
        );
    }
}

/// A tenants file others can read or write is warned about (it is the
/// operator's file, so it is not refused).
pub fn check_tenants_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode();
        if mode & 0o026 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the tenants file is open to other users of this machine, who can read or replace its tokens: run `chmod 600` on it"
            );
        } else {
            warn_if_group_readable(path, mode);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_patterns_match_exactly_or_by_any_port() {
        let p = vec![
            "https://shop.example".to_owned(),
            "http://localhost:*".to_owned(),
        ];
        assert!(origin_allowed(&p, "https://shop.example"));
        assert!(!origin_allowed(&p, "https://shop.example.evil"));
        assert!(!origin_allowed(&p, "http://shop.example"));
        assert!(origin_allowed(&p, "http://localhost:5173"));
        assert!(!origin_allowed(&p, "http://localhost:"));
        assert!(!origin_allowed(&p, "http://localhostevil"));
        assert!(!origin_allowed(&p, "http://localhost:80x"));
        assert!(!origin_allowed(&p, "http://localhost.evil:80"));
        assert!(origin_allowed(&["*".to_owned()], "null"));
    }

    #[test]
    fn any_port_matches_the_default_port_a_browser_leaves_out() {
        let p = vec!["https://shop.example:*".to_owned()];
        // `Origin` of a page on https://shop.example/ (port 443).
        assert!(origin_allowed(&p, "https://shop.example"));
        assert!(origin_allowed(&p, "https://shop.example:443"));
        assert!(origin_allowed(&p, "https://shop.example:8443"));
        assert!(!origin_allowed(&p, "http://shop.example"));
        assert!(!origin_allowed(&p, "https://shop.example.evil"));
        assert!(!origin_allowed(&p, "https://shop.exampl"));
    }

    #[test]
    fn mistakes_a_browser_would_never_match_or_an_audit_could_not_tell_apart_are_refused() {
        let refused = |text: &str| {
            let file: TenantsFile = toml::from_str(text).unwrap();
            format!("{:#}", Tenants::from_file(file).unwrap_err())
        };
        let tenant = |site: &str, users: &str| {
            format!("[[tenant]]\nid = \"acme\"\nsite_keys = [{site}]\nusers = [{users}]\n")
        };
        let ana =
            r#"{ id = "ana", role = "agent", token = "at_0123456789abcdef0123456789abcdef" }"#;
        let ana_admin =
            r#"{ id = "ana", role = "admin", token = "at_fedcba9876543210fedcba9876543210" }"#;
        assert!(refused("").contains("no tenant"));
        let e = refused(&tenant(r#"{ key = "pk_a", origins = [] }"#, ana));
        assert!(e.contains("no origins"), "{e}");
        let e = refused(&tenant(
            r#"{ key = "pk_a", origins = ["https://Shop.Example"] }"#,
            ana,
        ));
        assert!(e.contains("lower case"), "{e}");
        let e = refused(&tenant(
            r#"{ key = "pk_a", origins = ["https://shop.example:443"] }"#,
            ana,
        ));
        assert!(
            e.contains("default port") && e.contains("\"https://shop.example\""),
            "{e}"
        );
        let e = refused(&tenant(
            r#"{ key = "pk_a", origins = ["https://shop.example"] }"#,
            &format!("{ana}, {ana_admin}"),
        ));
        assert!(e.contains("user ana is defined twice"), "{e}");
    }

    /// A syntax error says where it is, not what the line says (tokens).
    #[test]
    fn a_syntax_error_does_not_quote_the_secrets_on_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.toml");
        std::fs::write(
            &path,
            "[[tenant]]\nid = \"acme\"\nusers = [{ id = \"ana\", role = \"admin\", token = \"at_secret0123456789abcdef0123456\" ]\n",
        )
        .unwrap();
        let err = format!("{:#}", Tenants::load(&path).unwrap_err());
        assert!(!err.contains("at_secret"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    fn file(token: &str) -> TenantsFile {
        toml::from_str(&format!(
            r#"
[[tenant]]
id = "acme"
site_keys = [{{ key = "pk_acme", origins = ["https://acme.example"] }}]
users = [{{ id = "ana", role = "agent", token = "{token}" }}]
server_keys = ["sk_0123456789abcdef0123456789abcdef"]
"#
        ))
        .unwrap()
    }

    #[test]
    fn tokens_and_keys_resolve_to_their_tenant() {
        let t = Tenants::from_file(file("at_0123456789abcdef0123456789abcdef")).unwrap();
        let p = t.user("at_0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            (p.tenant.as_str(), p.user.as_str(), p.role),
            ("acme", "ana", Role::Agent)
        );
        assert!(t.user("at_0123456789abcdef0123456789abcdeX").is_none());
        assert!(t.user("").is_none());
        assert_eq!(
            t.server_key("sk_0123456789abcdef0123456789abcdef")
                .unwrap()
                .as_str(),
            "acme"
        );
        assert_eq!(t.site_key("pk_acme").unwrap().tenant.as_str(), "acme");
    }

    #[test]
    fn weak_tokens_and_bad_origins_are_refused_with_a_reason() {
        let err = Tenants::from_file(file("short")).unwrap_err().to_string();
        assert!(err.contains("shorter than 32"), "{err}");
        let mut f = file("at_0123456789abcdef0123456789abcdef");
        f.tenants[0].site_keys[0].origins = vec!["acme.example/path".into()];
        let err = format!("{:#}", Tenants::from_file(f).unwrap_err());
        assert!(err.contains("https://host"), "{err}");
    }

    #[test]
    fn the_demo_tenant_is_written_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Tenants::demo(dir.path()).unwrap();
        let token = a.demo_tenant().unwrap().users[0].token.clone();
        assert!(a.user(&token).is_some());
        let b = Tenants::demo(dir.path()).unwrap();
        assert_eq!(
            b.demo_tenant().unwrap().users[0].token,
            token,
            "stable across restarts"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("demo-tenant.toml"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
