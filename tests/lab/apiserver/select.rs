//! Label selectors (`?labelSelector=` text and the `LabelSelector` objects of
//! PodDisruptionBudgets) and field selectors, with kube's semantics: `!=` and `notin`
//! match objects without the label.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    fn matches(&self, labels: &Value) -> bool {
        let get = |key: &str| labels.get(key).and_then(Value::as_str);
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        }
    }
}

/// A parsed selector; empty selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

impl Selector {
    /// Whether an object with `labels` (its `metadata.labels`, possibly null) is selected.
    pub fn matches(&self, labels: &Value) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }

    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        for term in split_top_level(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_term(term)?);
        }
        Ok(Selector(requirements))
    }

    /// A `LabelSelector` object (`matchLabels`, `matchExpressions`). A null or absent
    /// selector selects nothing, an empty one everything (policy/v1 semantics).
    pub fn from_object(selector: &Value) -> Result<Option<Selector>, String> {
        if selector.is_null() {
            return Ok(None);
        }
        let mut requirements = Vec::new();
        if let Some(labels) = selector["matchLabels"].as_object() {
            for (k, v) in labels {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("matchLabels.{k} is not a string"))?;
                requirements.push(Requirement::Equals(k.clone(), v.to_owned()));
            }
        }
        for expression in selector["matchExpressions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let key = expression["key"].as_str().unwrap_or_default().to_owned();
            let values: Vec<String> = expression["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            requirements.push(match expression["operator"].as_str().unwrap_or_default() {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::NotExists(key),
                other => return Err(format!("{other:?} is not a valid label selector operator")),
            });
        }
        Ok(Some(Selector(requirements)))
    }
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn check_key(key: &str, term: &str) -> Result<String, String> {
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid {
        Ok(key.to_owned())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label key {key:?} in {term:?}"
        ))
    }
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::NotExists(check_key(key.trim(), term)?));
    }
    if let Some(open) = term.find('(') {
        let close = term
            .rfind(')')
            .filter(|close| *close > open && term[close + 1..].trim().is_empty())
            .ok_or_else(|| format!("unable to parse requirement: missing ')' in {term:?}"))?;
        let mut head = term[..open].split_whitespace();
        let (key, operator) = (head.next().unwrap_or(""), head.next().unwrap_or(""));
        let values: Vec<String> = term[open + 1..close]
            .split(',')
            .map(|v| v.trim().to_owned())
            .collect();
        let key = check_key(key, term)?;
        return match operator {
            "in" => Ok(Requirement::In(key, values)),
            "notin" => Ok(Requirement::NotIn(key, values)),
            _ => Err(format!(
                "unable to parse requirement: found {operator:?}, expected: in, notin"
            )),
        };
    }
    for (operator, negated) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = term.split_once(operator) {
            let (key, value) = (check_key(key.trim(), term)?, value.trim().to_owned());
            return Ok(if negated {
                Requirement::NotEquals(key, value)
            } else {
                Requirement::Equals(key, value)
            });
        }
    }
    Ok(Requirement::Exists(check_key(term, term)?))
}

/// A field selector: `field=value`, `field==value`, `field!=value`, comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, String, bool)>);

impl FieldSelector {
    /// Parses `text`, allowing metadata.name, metadata.namespace and `fields`.
    pub fn parse(text: &str, fields: &[&str]) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, negated) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, false)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                ));
            };
            let field = field.trim();
            let known =
                matches!(field, "metadata.name" | "metadata.namespace") || fields.contains(&field);
            if !known {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((field.to_owned(), value.trim().to_owned(), negated));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, value, negated)| {
            let actual = field
                .split('.')
                .try_fold(object, |v, part| v.get(part))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            (actual == *value) != *negated
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_operators() {
        let labels = json!({"app": "web", "tier": "front", "env": "prod"});
        let yes = |s: &str| Selector::parse(s).unwrap().matches(&labels);
        assert!(yes(""));
        assert!(yes("app=web"));
        assert!(yes("app==web,tier"));
        assert!(!yes("app!=web"));
        assert!(yes("missing!=x"));
        assert!(yes("env in (dev, prod),tier notin (back)"));
        assert!(!yes("env notin (prod)"));
        assert!(yes("missing notin (prod)"));
        assert!(yes("!missing"));
        assert!(!yes("!app"));
        assert!(!yes("missing"));
        assert!(Selector::parse("app in (web").is_err());
        assert!(Selector::parse("app between (a)").is_err());
    }

    #[test]
    fn selector_objects() {
        let s = Selector::from_object(&json!({
            "matchLabels": {"app": "db"},
            "matchExpressions": [{"key": "role", "operator": "In", "values": ["primary"]}],
        }))
        .unwrap()
        .unwrap();
        assert!(s.matches(&json!({"app": "db", "role": "primary"})));
        assert!(!s.matches(&json!({"app": "db"})));
        assert!(
            Selector::from_object(&json!({}))
                .unwrap()
                .unwrap()
                .matches(&Value::Null)
        );
        assert!(Selector::from_object(&Value::Null).unwrap().is_none());
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}});
        let fields = &["spec.nodeName"];
        let yes = |s: &str| FieldSelector::parse(s, fields).unwrap().matches(&pod);
        assert!(yes("spec.nodeName=n1,metadata.namespace==ns"));
        assert!(!yes("spec.nodeName!=n1"));
        assert!(yes("metadata.name!=q"));
        assert_eq!(
            FieldSelector::parse("spec.foo=1", fields).unwrap_err(),
            "field label not supported: spec.foo"
        );
    }
}
