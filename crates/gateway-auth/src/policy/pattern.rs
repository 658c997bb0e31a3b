//! IAM wildcard patterns: `*` matches any run of characters (including `/` and
//! `:`), `?` matches one character. Patterns are classified when a policy is
//! compiled so that the common shapes (a literal, `*`, `prefix*`) cost a comparison.

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `*`: matches everything.
    Any,
    /// No wildcard: equality.
    Exact(Box<str>),
    /// `prefix*` with no other wildcard.
    Prefix(Box<str>),
    /// Anything else, matched by [`glob`].
    Glob(Box<str>),
}

impl Pattern {
    /// Compiles `pattern`; with `ignore_case`, the pattern and the values it is
    /// matched against are compared ASCII case-insensitively (actions are).
    pub(crate) fn new(pattern: &str, ignore_case: bool) -> Self {
        let pattern = if ignore_case {
            pattern.to_ascii_lowercase()
        } else {
            pattern.to_owned()
        };
        if pattern == "*" {
            return Self::Any;
        }
        let wild = |c: char| c == '*' || c == '?';
        match pattern.find(wild) {
            None => Self::Exact(pattern.into()),
            Some(i) if i == pattern.len() - 1 && pattern.ends_with('*') => {
                Self::Prefix(pattern[..i].into())
            }
            Some(_) => Self::Glob(pattern.into()),
        }
    }

    /// Whether `value` matches. `value` must already be lower-cased for patterns
    /// compiled with `ignore_case`.
    pub(crate) fn matches(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(p) => **p == *value,
            Self::Prefix(p) => value.starts_with(&**p),
            Self::Glob(p) => glob(p.as_bytes(), value.as_bytes()),
        }
    }
}

/// Wildcard matching with one backtrack point (the last `*`), linear in practice
/// and never worse than `O(pattern × value)`.
pub(crate) fn glob(pattern: &[u8], value: &[u8]) -> bool {
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, v));
                p += 1;
            }
            Some(&c) if c == b'?' || c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    p = sp + 1;
                    v = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_iam_wildcards() {
        let cases = [
            ("*", "anything/at:all", true),
            (
                "arn:aws:execute-api:*",
                "arn:aws:execute-api:us-east-1:1:a/s/GET/",
                true,
            ),
            (
                "arn:aws:execute-api:*:*:abc/*/GET/*",
                "arn:aws:execute-api:r:1:abc/prod/GET/pets/1",
                true,
            ),
            (
                "arn:aws:execute-api:*:*:abc/*/GET/*",
                "arn:aws:execute-api:r:1:abc/prod/POST/pets",
                false,
            ),
            ("a/*/GET/pets", "a/prod/GET/pets", true),
            ("a/*/GET/pets", "a/prod/GET/pets/1", false),
            ("a/?rod/*", "a/prod/x", true),
            ("a/?rod/*", "a/rod/x", false),
            ("*b*c", "abxbc", true),
            ("*b*c", "abxbd", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("", "", true),
            ("**", "", true),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(
                Pattern::new(pattern, false).matches(value),
                expected,
                "{pattern} vs {value}"
            );
            assert_eq!(
                glob(pattern.as_bytes(), value.as_bytes()),
                expected,
                "{pattern} vs {value}"
            );
        }
    }

    #[test]
    fn case_insensitive_patterns_lower_case_themselves() {
        let p = Pattern::new("Execute-API:Invoke", true);
        assert!(p.matches("execute-api:invoke"));
        assert!(Pattern::new("execute-api:*", true).matches("execute-api:invoke"));
    }
}
