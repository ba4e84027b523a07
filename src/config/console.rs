//! The `[console]` section of `tallyman.toml`: where the operator console's action token is
//! read from (a file or an environment variable, never the token itself). No section, or one
//! naming neither, leaves the console read-only.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, Home, GLOBAL_FILE};

/// `[console]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleRaw {
    /// A file holding the token (relative to the home folder); its surrounding spaces and
    /// newline are not part of it.
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the token.
    pub token_env: Option<String>,
}

/// Where the console's action token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    File(PathBuf),
    Env(String),
}

/// The compiled `[console]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// `None`: read-only console (no forms, every POST refused).
    pub token: Option<TokenSource>,
}

impl ConsoleRaw {
    /// Validates the section, every problem at once; `home` resolves a relative token file.
    pub fn compile(&self, home: &Home) -> Result<ConsoleSettings, Vec<ConfigError>> {
        let problem = |key: &str, why: &str| ConfigError {
            file: GLOBAL_FILE.into(),
            key: key.into(),
            why: why.into(),
        };
        let mut errors = Vec::new();
        if self.token_file.is_some() && self.token_env.is_some() {
            errors.push(problem(
                "console",
                "give token_file or token_env, not both: the token must have one source",
            ));
        }
        if self
            .token_env
            .as_deref()
            .is_some_and(|v| v.trim().is_empty())
        {
            errors.push(problem("console.token_env", "names no variable"));
        }
        if self
            .token_file
            .as_ref()
            .is_some_and(|f| f.as_os_str().is_empty())
        {
            errors.push(problem("console.token_file", "names no file"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let token = match (&self.token_file, &self.token_env) {
            (Some(f), _) => Some(TokenSource::File(home.root.join(f))),
            (None, Some(v)) => Some(TokenSource::Env(v.trim().to_string())),
            (None, None) => None,
        };
        Ok(ConsoleSettings { token })
    }
}

/// Reads `tallyman.toml` (optional) and compiles its `[console]` section.
pub fn load(home: &Home) -> Result<ConsoleSettings, Vec<ConfigError>> {
    let path = home.root.join(GLOBAL_FILE);
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConsoleSettings::default()),
        Err(e) => Err(vec![ConfigError {
            file: GLOBAL_FILE.into(),
            key: "-".into(),
            why: e.to_string(),
        }]),
        Ok(text) => match toml::from_str::<super::mail::GlobalRaw>(&text) {
            Ok(g) => g.console.unwrap_or_default().compile(home),
            Err(e) => Err(vec![super::toml_problem(GLOBAL_FILE, &text, &e)]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(toml_text: &str) -> Result<ConsoleSettings, Vec<ConfigError>> {
        let raw: ConsoleRaw = toml::from_str(toml_text).map_err(|e| {
            vec![ConfigError {
                file: "t".into(),
                key: "-".into(),
                why: e.to_string(),
            }]
        })?;
        raw.compile(&Home::new("/home/t"))
    }

    #[test]
    fn token_sources_compile_and_conflicts_are_refused() {
        assert_eq!(compile("").unwrap().token, None);
        assert_eq!(
            compile("token_env = \"TALLYMAN_TOKEN\"").unwrap().token,
            Some(TokenSource::Env("TALLYMAN_TOKEN".into()))
        );
        assert_eq!(
            compile("token_file = \"var/console.token\"").unwrap().token,
            Some(TokenSource::File("/home/t/var/console.token".into()))
        );
        let both = compile("token_file = \"a\"\ntoken_env = \"B\"").unwrap_err();
        assert_eq!(both.len(), 1);
        assert!(both[0].why.contains("not both"));
        assert!(
            compile("token = \"secret\"").is_err(),
            "unknown keys refused"
        );
        assert_eq!(
            compile("token_env = \" \"").unwrap_err()[0].key,
            "console.token_env"
        );
    }
}
