//! `lockscan.toml`: `[[allow]]` entries that suppress known, accepted findings.
//!
//! An entry allows the findings of one kind whose lock set (and, when it names `vars`, whose
//! variable set) equals the entry's. Sets: order and repetition do not matter, as in
//! [`Finding::fingerprint`], so an entry allows exactly the findings of one fingerprint.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use lockscan::report::UnusedSuppression;
use lockscan::{Finding, FindingKind};

/// The configuration read when `--config` is not given, from the current directory.
pub(crate) const DEFAULT_CONFIG: &str = "lockscan.toml";

/// The file's shape as serde reads it; [`Suppressions`] is what the analysis uses.
mod wire {
    use serde::Deserialize;
    use toml::Spanned;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct ConfigFile {
        #[serde(default)]
        pub(super) allow: Vec<Spanned<AllowEntry>>,
    }

    // `kind` and `reason` are optional here so that their absence gets an error naming the
    // entry, not serde's bare "missing field".
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct AllowEntry {
        pub(super) kind: Option<Spanned<String>>,
        #[serde(default)]
        pub(super) locks: Vec<String>,
        pub(super) vars: Option<Vec<String>>,
        pub(super) reason: Option<String>,
    }
}

/// A configuration that cannot be used. Each names the file, and the line when known.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, or not the expected shape.
    #[error("{config}:{}{message}", line.map(|l| format!("{l}: ")).unwrap_or_else(|| " ".into()))]
    Syntax {
        config: String,
        line: Option<usize>,
        message: String,
    },
    /// An `[[allow]]` entry that cannot be used.
    #[error("{config}:{line}: [[allow]] entry {entry}: {message}")]
    Entry {
        config: String,
        line: usize,
        entry: usize,
        message: String,
    },
}

/// One `[[allow]]` entry.
#[derive(Debug)]
struct Allow {
    entry: usize,
    line: usize,
    kind: FindingKind,
    locks: BTreeSet<String>,
    /// `None`: the entry does not look at variables.
    vars: Option<BTreeSet<String>>,
    matched: usize,
}

impl Allow {
    /// Whether this entry allows a finding of `kind` with these lock and variable sets.
    fn allows(&self, kind: FindingKind, locks: &BTreeSet<&str>, vars: &BTreeSet<&str>) -> bool {
        let same = |ours: &BTreeSet<String>, theirs: &BTreeSet<&str>| {
            ours.iter().map(String::as_str).eq(theirs.iter().copied())
        };
        kind == self.kind
            && same(&self.locks, locks)
            && self.vars.as_ref().is_none_or(|ours| same(ours, vars))
    }
}

/// The suppressions of one configuration file.
#[derive(Debug)]
pub(crate) struct Suppressions {
    config: String,
    allows: Vec<Allow>,
}

impl Suppressions {
    /// The configuration `explicit` names (which must exist), else `lockscan.toml` in the
    /// current directory when there is one.
    pub(crate) fn load(explicit: Option<&Path>) -> Result<Option<Suppressions>, ConfigError> {
        let path = match explicit {
            Some(path) => path,
            None if Path::new(DEFAULT_CONFIG).is_file() => Path::new(DEFAULT_CONFIG),
            None => return Ok(None),
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Suppressions::parse(&path.display().to_string(), &text).map(Some)
    }

    /// Reads the configuration `text`, called `config` in errors and warnings.
    pub(crate) fn parse(config: &str, text: &str) -> Result<Suppressions, ConfigError> {
        // Bytes, not a `str` slice: an offset inside a character must not panic.
        let line_of = |span: Range<usize>| {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            before.iter().filter(|&&b| b == b'\n').count() + 1
        };
        let file: wire::ConfigFile = toml::from_str(text).map_err(|err| ConfigError::Syntax {
            config: config.to_owned(),
            line: err.span().map(line_of),
            message: err.message().trim_end().to_owned(),
        })?;
        let mut allows = Vec::with_capacity(file.allow.len());
        for (index, spanned) in file.allow.into_iter().enumerate() {
            let line = line_of(spanned.span());
            let entry = index + 1;
            let error = |line: usize, message: String| ConfigError::Entry {
                config: config.to_owned(),
                line,
                entry,
                message,
            };
            let raw = spanned.into_inner();
            let Some(kind) = raw.kind else {
                return Err(error(line, "no `kind`".into()));
            };
            let kind_line = line_of(kind.span());
            let kind: FindingKind = kind.into_inner().parse().map_err(|_| {
                let known: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
                error(
                    kind_line,
                    format!("unknown kind; expected one of {}", known.join(", ")),
                )
            })?;
            if raw.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return Err(error(
                    line,
                    "no `reason`: say why this finding is accepted".into(),
                ));
            }
            if raw.vars.is_some() && kind != FindingKind::DataRace {
                return Err(error(
                    line,
                    "`vars` applies to `data-race` entries only".into(),
                ));
            }
            let locks: BTreeSet<String> = raw.locks.into_iter().collect();
            let vars: Option<BTreeSet<String>> = raw.vars.map(|v| v.into_iter().collect());
            if locks.is_empty() && vars.as_ref().is_none_or(BTreeSet::is_empty) {
                // An entry with neither would allow every finding of its kind: too broad to be
                // written by accident.
                return Err(error(line, "names no `locks` (or `vars`)".into()));
            }
            allows.push(Allow {
                entry,
                line,
                kind,
                locks,
                vars,
                matched: 0,
            });
        }
        Ok(Suppressions {
            config: config.to_owned(),
            allows,
        })
    }

    /// Removes the findings some entry allows; returns how many it removed.
    pub(crate) fn apply(&mut self, findings: &mut Vec<Finding>) -> usize {
        let before = findings.len();
        findings.retain(|finding| {
            let locks: BTreeSet<&str> = finding.locks.iter().map(String::as_str).collect();
            let vars: BTreeSet<&str> = finding.vars.iter().map(|v| v.var.as_str()).collect();
            let mut allowed = false;
            // Every entry that allows it is used, so a duplicate is not reported as unused.
            for allow in &mut self.allows {
                if allow.allows(finding.kind, &locks, &vars) {
                    allow.matched += 1;
                    allowed = true;
                }
            }
            !allowed
        });
        before - findings.len()
    }

    /// The entries that have allowed nothing so far.
    pub(crate) fn unused(&self) -> Vec<UnusedSuppression> {
        self.allows
            .iter()
            .filter(|allow| allow.matched == 0)
            .map(|allow| UnusedSuppression {
                config: self.config.clone(),
                entry: allow.entry,
                line: allow.line,
                kind: allow.kind,
                locks: allow.locks.iter().cloned().collect(),
                vars: allow.vars.iter().flatten().cloned().collect(),
            })
            .collect()
    }
}

/// The warning for an entry that matched nothing.
pub(crate) fn unused_warning(unused: &UnusedSuppression) -> String {
    format!("{}:{}: {unused}", unused.config, unused.line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockscan::VarAccess;

    fn finding(kind: FindingKind, locks: &[&str], vars: &[&str]) -> Finding {
        let mut finding = Finding::new(kind, "m");
        finding.locks = locks.iter().map(|&l| l.to_owned()).collect();
        finding.vars = vars
            .iter()
            .map(|&var| VarAccess {
                var: var.to_owned(),
                thread: "t".into(),
                write: true,
                site: None,
            })
            .collect();
        finding
    }

    const TWO: &str = r#"
[[allow]]
kind = "potential-deadlock"
locks = ["b", "a"]
reason = "the two paths never run together"

[[allow]]
kind = "data-race"
vars = ["balance"]
reason = "a statistic; torn reads are fine"
"#;

    #[test]
    fn an_entry_allows_its_kind_and_lock_set_in_any_order() {
        let mut suppressions = Suppressions::parse("c.toml", TWO).unwrap();
        let mut findings = vec![
            finding(FindingKind::PotentialDeadlock, &["a", "b"], &[]),
            finding(FindingKind::PotentialDeadlock, &["b", "a", "b"], &[]),
            finding(FindingKind::PotentialDeadlock, &["a", "b", "c"], &[]),
            finding(FindingKind::LockOrderInversion, &["a", "b"], &[]),
            finding(FindingKind::DataRace, &[], &["balance", "balance"]),
            finding(FindingKind::DataRace, &[], &["total"]),
        ];
        assert_eq!(suppressions.apply(&mut findings), 3);
        let left: Vec<(FindingKind, usize)> =
            findings.iter().map(|f| (f.kind, f.locks.len())).collect();
        assert_eq!(
            left,
            [
                (FindingKind::PotentialDeadlock, 3),
                (FindingKind::LockOrderInversion, 2),
                (FindingKind::DataRace, 0)
            ]
        );
        assert_eq!(suppressions.unused(), []);
    }

    #[test]
    fn entries_that_allowed_nothing_are_unused() {
        let mut suppressions = Suppressions::parse("c.toml", TWO).unwrap();
        let mut findings = vec![finding(FindingKind::DataRace, &[], &["balance"])];
        suppressions.apply(&mut findings);
        let unused = suppressions.unused();
        assert_eq!(unused.len(), 1);
        // The entry's line is its `[[allow]]` header's.
        assert_eq!((unused[0].entry, unused[0].line), (1, 2));
        assert_eq!(unused[0].locks, ["a", "b"]);
        assert_eq!(
            unused_warning(&unused[0]),
            "c.toml:2: [[allow]] entry 1 (potential-deadlock, locks `a`, `b`) matched no \
             finding; remove it if the bug is fixed"
        );
    }

    fn error(text: &str) -> String {
        Suppressions::parse("c.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_entry() {
        let no_reason = "[[allow]]\nkind = \"deadlock\"\nlocks = [\"a\"]\n";
        assert_eq!(
            error(no_reason),
            "c.toml:1: [[allow]] entry 1: no `reason`: say why this finding is accepted"
        );
        let blank = format!("{no_reason}reason = \"  \"\n");
        assert!(
            error(&blank).contains("entry 1: no `reason`"),
            "{}",
            error(&blank)
        );
        let unknown = "[[allow]]\nkind = \"deadlock\"\nlocks = [\"a\"]\nreason = \"r\"\n\n\
                       [[allow]]\nkind = \"deadlocks\"\nlocks = [\"a\"]\nreason = \"r\"\n";
        assert!(
            error(unknown).starts_with(
                "c.toml:7: [[allow]] entry 2: unknown kind; expected one of deadlock, "
            ),
            "{}",
            error(unknown)
        );
        let bad_toml = "[[allow]]\nkind = \"deadlock\"\nlocks = [\"a\"\n";
        assert!(
            error(bad_toml).starts_with("c.toml:3: "),
            "{}",
            error(bad_toml)
        );
        let typo = "[[allow]]\nkind = \"deadlock\"\nlock = [\"a\"]\nreason = \"r\"\n";
        assert!(
            error(typo).starts_with("c.toml:3: unknown field `lock`"),
            "{}",
            error(typo)
        );
        let no_kind = "[[allow]]\nlocks = [\"a\"]\nreason = \"r\"\n";
        assert!(
            error(no_kind).ends_with("entry 1: no `kind`"),
            "{}",
            error(no_kind)
        );
        let nothing = "[[allow]]\nkind = \"deadlock\"\nreason = \"r\"\n";
        assert!(
            error(nothing).ends_with("names no `locks` (or `vars`)"),
            "{}",
            error(nothing)
        );
        let vars =
            "[[allow]]\nkind = \"deadlock\"\nlocks = [\"a\"]\nvars = [\"v\"]\nreason = \"r\"\n";
        assert!(
            error(vars).ends_with("`data-race` entries only"),
            "{}",
            error(vars)
        );
    }

    #[test]
    fn errors_after_multibyte_text_still_get_their_line() {
        let text = "# ünïcödé\n[[allow]]\nkind = \"dëadlock\"\nlocks = [\"ä\"]\nreason = \"r\"\n";
        assert!(
            error(text).starts_with("c.toml:3: [[allow]] entry 1: unknown kind"),
            "{}",
            error(text)
        );
    }

    #[test]
    fn an_empty_file_allows_nothing() {
        let mut suppressions = Suppressions::parse("c.toml", "").unwrap();
        let mut findings = vec![finding(FindingKind::Deadlock, &["a"], &[])];
        assert_eq!(suppressions.apply(&mut findings), 0);
        assert_eq!(findings.len(), 1);
    }
}
