//! The set functions `setunion`, `setintersection` and `setsubtract`.
//! Sets are arrays sorted and without duplicates; the elements of all the
//! arguments are unified to one type first, as Terraform does.

use hcl::Value;
use hcl::eval::FuncArgs;

use super::super::conversion::{make_set, param_err, unify};

/// Unifies the elements of all the given sets together, as Terraform does
/// when it converts every argument to one set type, and returns each set.
fn sets(args: &FuncArgs, names: (&str, &str)) -> Result<Vec<Vec<Value>>, String> {
    let mut all = Vec::new();
    let mut lens = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let name = if i == 0 { names.0 } else { names.1 };
        let items = match arg {
            Value::Array(items) => items,
            _ => return Err(param_err(name, "set of any single type required")),
        };
        lens.push(items.len());
        all.extend(items.iter().cloned());
    }
    let mut unified = unify(&all)
        .ok_or_else(|| "given sets must all have compatible element types".to_string())?
        .into_iter();
    Ok(lens
        .into_iter()
        .map(|l| unified.by_ref().take(l).collect())
        .collect())
}

fn set_value(items: Vec<Value>) -> Value {
    Value::Array(make_set(&items).unwrap_or(items))
}

pub(crate) fn setunion(args: FuncArgs) -> Result<Value, String> {
    let sets = sets(&args, ("first_set", "other_sets"))?;
    Ok(set_value(sets.into_iter().flatten().collect()))
}

pub(crate) fn setintersection(args: FuncArgs) -> Result<Value, String> {
    let mut sets = sets(&args, ("first_set", "other_sets"))?.into_iter();
    let first = sets.next().unwrap_or_default();
    let rest: Vec<Vec<Value>> = sets.collect();
    let items = first
        .into_iter()
        .filter(|v| rest.iter().all(|s| s.contains(v)))
        .collect();
    Ok(set_value(items))
}

pub(crate) fn setsubtract(args: FuncArgs) -> Result<Value, String> {
    let sets = sets(&args, ("a", "b"))?;
    let (a, b) = (&sets[0], &sets[1]);
    Ok(set_value(
        a.iter().filter(|v| !b.contains(v)).cloned().collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::super::call;
    use hcl::Value;

    fn list(xs: &[&str]) -> Value {
        Value::from_iter(xs.iter().map(|x| Value::from(*x)))
    }

    #[test]
    fn set_functions_docs() {
        assert_eq!(
            call(
                "setintersection",
                vec![list(&["a", "b"]), list(&["b", "c"]), list(&["b", "d"])]
            ),
            Ok(list(&["b"]))
        );
        assert_eq!(
            call(
                "setsubtract",
                vec![list(&["a", "b", "c"]), list(&["a", "c"])]
            ),
            Ok(list(&["b"]))
        );
        assert_eq!(
            call(
                "setunion",
                vec![list(&["a", "b"]), list(&["b", "c"]), list(&["d"])]
            ),
            Ok(list(&["a", "b", "c", "d"]))
        );
        assert_eq!(
            call("setunion", vec![list(&["b"]), Value::Array(vec![1.into()])]),
            Ok(list(&["1", "b"]))
        );
        assert_eq!(
            call("setunion", vec![list(&["b", "a", "b"])]),
            Ok(list(&["a", "b"]))
        );
        assert_eq!(
            call("setunion", vec![list(&["a"]), Value::from("b")]),
            Err(
                "invalid value for \"other_sets\" parameter: set of any single type required"
                    .into()
            )
        );
        assert_eq!(
            call("setsubtract", vec![Value::from(1), list(&[])]),
            Err("invalid value for \"a\" parameter: set of any single type required".into())
        );
        assert_eq!(
            call(
                "setintersection",
                vec![list(&["a"]), Value::Array(vec![Value::Array(vec![])])]
            ),
            Err("given sets must all have compatible element types".into())
        );
    }
}
