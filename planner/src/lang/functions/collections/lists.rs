//! List and sequence functions: `chunklist`, `compact`, `concat`,
//! `distinct`, `element`, `flatten`, `index`, `range`, `reverse`, `slice`,
//! `sort` and `sum`.

use hcl::Value;
use hcl::eval::FuncArgs;

use super::super::conversion::{
    make_number, param_err, to_num, type_name, want_int, want_num, want_seq, want_str_list,
};

pub(crate) fn chunklist(args: FuncArgs) -> Result<Value, String> {
    let list = want_seq(&args[0], "list")?;
    let size = want_int(&args[1], "size")?;
    if list.is_empty() {
        return Ok(Value::Array(vec![]));
    }
    let size =
        usize::try_from(size).map_err(|_| "the size argument must be positive".to_string())?;
    if size == 0 {
        return Ok(Value::Array(vec![Value::Array(list.clone())]));
    }
    Ok(Value::Array(
        list.chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

pub(crate) fn compact(args: FuncArgs) -> Result<Value, String> {
    let items = want_str_list(&args[0], "list")?;
    Ok(Value::Array(
        items
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(Value::String)
            .collect(),
    ))
}

pub(crate) fn concat(args: FuncArgs) -> Result<Value, String> {
    if args.is_empty() {
        return Err("at least one argument is required".to_string());
    }
    let mut out = Vec::new();
    for arg in args.iter() {
        match arg {
            Value::Array(items) => out.extend(items.iter().cloned()),
            Value::Null => return Err(param_err("seqs", "argument must not be null")),
            other => {
                return Err(format!(
                    "all arguments must be lists or tuples; got {}",
                    type_name(other)
                ));
            }
        }
    }
    Ok(Value::Array(out))
}

pub(super) fn seq_of<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(what.to_string()),
    }
}

pub(crate) fn distinct(args: FuncArgs) -> Result<Value, String> {
    let list = want_seq(&args[0], "list")?;
    let mut out: Vec<Value> = Vec::with_capacity(list.len());
    for v in list {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

pub(crate) fn element(args: FuncArgs) -> Result<Value, String> {
    let index = want_int(&args[1], "index")?;
    if index < 0 {
        return Err("cannot use element function with a negative index".to_string());
    }
    let list = match &args[0] {
        Value::Array(items) => items,
        other => return Err(format!("cannot read elements from {}", type_name(other))),
    };
    if list.is_empty() {
        return Err("cannot use element function with an empty list".to_string());
    }
    let i = usize::try_from(index).unwrap_or(0) % list.len();
    Ok(list[i].clone())
}

fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
    for v in items {
        match v {
            Value::Array(inner) => flatten_into(inner, out),
            other => out.push(other.clone()),
        }
    }
}

pub(crate) fn flatten(args: FuncArgs) -> Result<Value, String> {
    let list = seq_of(&args[0], "can only flatten lists, sets and tuples")?;
    let mut out = Vec::new();
    flatten_into(list, &mut out);
    Ok(Value::Array(out))
}

pub(crate) fn index(args: FuncArgs) -> Result<Value, String> {
    let list = seq_of(&args[0], "argument must be a list or tuple")?;
    if list.is_empty() {
        return Err("cannot search an empty list".to_string());
    }
    list.iter()
        .position(|v| *v == args[1])
        .map(Value::from)
        .ok_or_else(|| "item not found".to_string())
}

/// Terraform refuses to build more than this many elements in `range`.
const RANGE_LIMIT: usize = 1024;

pub(crate) fn range(args: FuncArgs) -> Result<Value, String> {
    let nums = args
        .iter()
        .map(|v| want_num(v, "params"))
        .collect::<Result<Vec<_>, _>>()?;
    let zero = hcl::Number::from(0);
    let (start, end, step) = match nums.as_slice() {
        [end] => (
            zero,
            *end,
            hcl::Number::from(if *end < zero { -1 } else { 1 }),
        ),
        [start, end] => (
            *start,
            *end,
            hcl::Number::from(if end < start { -1 } else { 1 }),
        ),
        [start, end, step] => (*start, *end, *step),
        _ => return Err("must have one, two, or three arguments".to_string()),
    };
    if step == zero {
        return Err("step must not be zero".to_string());
    }
    let down = step < zero;
    if down && end > start {
        return Err(param_err(
            "params",
            "end must be less than start when step is negative",
        ));
    }
    if !down && end < start {
        return Err(param_err(
            "params",
            "end must be greater than start when step is positive",
        ));
    }
    let (s, e, st) = (
        start.as_f64().unwrap_or(0.0),
        end.as_f64().unwrap_or(0.0),
        step.as_f64().unwrap_or(1.0),
    );
    let mut out = Vec::new();
    for i in 0.. {
        // Multiplying instead of accumulating keeps fractional steps exact-ish.
        let mut n = s + f64::from(i) * st;
        if n.fract() != 0.0 {
            // Trims binary noise such as 0.30000000000000004 that cty's
            // big-float arithmetic does not produce.
            n = format!("{n:.14e}").parse().unwrap_or(n);
        }
        if (down && n <= e) || (!down && n >= e) {
            break;
        }
        if out.len() >= RANGE_LIMIT {
            return Err("more than 1024 values were generated; either decrease the difference between start and end or use a smaller step".to_string());
        }
        out.push(make_number(n)?);
    }
    Ok(Value::Array(out))
}

pub(crate) fn reverse(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(items) => Ok(Value::Array(items.iter().rev().cloned().collect())),
        other => Err(param_err(
            "list",
            &format!(
                "can only reverse list or tuple values, not {}",
                type_name(other)
            ),
        )),
    }
}

fn slice_index(v: &Value, param: &str, what: &str, len: usize) -> Result<usize, String> {
    let i = want_int(v, param)?;
    let i = usize::try_from(i)
        .map_err(|_| param_err(param, &format!("{what} index must not be less than zero")))?;
    if i > len {
        return Err(param_err(
            param,
            &format!("{what} index must not be greater than the length of the list"),
        ));
    }
    Ok(i)
}

pub(crate) fn slice(args: FuncArgs) -> Result<Value, String> {
    let list = match &args[0] {
        Value::Array(items) => items,
        _ => return Err(param_err("list", "must be a list or tuple value")),
    };
    let start = slice_index(&args[1], "start_index", "start", list.len())?;
    let end = slice_index(&args[2], "end_index", "end", list.len())?;
    if start > end {
        return Err(param_err(
            "start_index",
            "start index must not be greater than end index",
        ));
    }
    Ok(Value::Array(list[start..end].to_vec()))
}

pub(crate) fn sort(args: FuncArgs) -> Result<Value, String> {
    let mut items = Vec::new();
    for (i, item) in want_str_list(&args[0], "list")?.into_iter().enumerate() {
        items.push(item.ok_or_else(|| {
            format!("given list element {i} is null; a null string cannot be sorted")
        })?);
    }
    items.sort();
    Ok(Value::Array(items.into_iter().map(Value::String).collect()))
}

pub(crate) fn sum(args: FuncArgs) -> Result<Value, String> {
    let list = match &args[0] {
        Value::Array(items) => items,
        Value::Object(_) => {
            return Err(param_err(
                "list",
                "argument must be list, set, or tuple. Received object",
            ));
        }
        _ => return Err(param_err("list", "cannot sum noniterable")),
    };
    if list.is_empty() {
        return Err(param_err("list", "cannot sum an empty list"));
    }
    let bad = || {
        param_err(
            "list",
            "argument must be list, set, or tuple of number values",
        )
    };
    let mut exact: Option<i64> = Some(0);
    let mut approx = 0f64;
    for v in list {
        let n = to_num(v).ok().flatten().ok_or_else(bad)?;
        exact = exact.zip(n.as_i64()).and_then(|(a, b)| a.checked_add(b));
        approx += n.as_f64().unwrap_or(0.0);
    }
    match exact {
        Some(i) => Ok(Value::from(i)),
        None => make_number(approx),
    }
}

#[cfg(test)]
mod tests {
    use crate::lang::functions::conversion::param_err;
    #[allow(unused_imports)]
    use crate::lang::functions::testing::*;
    use hcl::Value;

    #[test]
    fn range_docs() {
        assert_eq!(ok("range", vec![3.into()]), nums(&[0.0, 1.0, 2.0]));
        assert_eq!(
            ok("range", vec![1.into(), 4.into()]),
            nums(&[1.0, 2.0, 3.0])
        );
        assert_eq!(
            ok("range", vec![1.into(), 8.into(), 2.into()]),
            nums(&[1.0, 3.0, 5.0, 7.0])
        );
        assert_eq!(
            ok("range", vec![1.into(), 4.into(), 0.5.into()]),
            nums(&[1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
        );
        assert_eq!(
            ok("range", vec![4.into(), 1.into()]),
            nums(&[4.0, 3.0, 2.0])
        );
        assert_eq!(
            ok("range", vec![10.into(), 5.into(), (-2).into()]),
            nums(&[10.0, 8.0, 6.0])
        );
        assert_eq!(
            ok("range", vec![0.into(), 0.4.into(), 0.1.into()]),
            nums(&[0.0, 0.1, 0.2, 0.3])
        );
        assert_eq!(ok("range", vec![(-3).into()]), nums(&[0.0, -1.0, -2.0]));
        assert_eq!(ok("range", vec![0.into()]), nums(&[]));
        assert_eq!(
            call("range", vec![1024.into()]).map(|v| v.as_array().map(Vec::len)),
            Ok(Some(1024))
        );
        assert_eq!(
            err("range", vec![1025.into()]),
            "more than 1024 values were generated; either decrease the difference between start and end or use a smaller step"
        );
        assert_eq!(
            err("range", vec![1.into(), 2.into(), 0.into()]),
            "step must not be zero"
        );
        assert_eq!(
            err("range", vec![]),
            "must have one, two, or three arguments"
        );
        assert_eq!(
            err("range", vec![1.into(), 5.into(), (-1).into()]),
            param_err(
                "params",
                "end must be less than start when step is negative"
            )
        );
        assert_eq!(
            err("range", vec![5.into(), 1.into(), 1.into()]),
            param_err(
                "params",
                "end must be greater than start when step is positive"
            )
        );
        assert!(call("range", vec![0.into(), 1e300.into(), 1e-300.into()]).is_err());
    }

    #[test]
    fn slice_sort_reverse_docs() {
        assert_eq!(
            ok(
                "slice",
                vec![list(&["a", "b", "c", "d"]), 1.into(), 3.into()]
            ),
            list(&["b", "c"])
        );
        assert_eq!(
            err("slice", vec![list(&["a"]), 0.into(), 2.into()]),
            "invalid value for \"end_index\" parameter: end index must not be greater than the length of the list"
        );
        assert_eq!(
            err("slice", vec![list(&["a"]), (-1).into(), 1.into()]),
            "invalid value for \"start_index\" parameter: start index must not be less than zero"
        );
        assert_eq!(
            err("slice", vec![list(&["a", "b"]), 2.into(), 1.into()]),
            "invalid value for \"start_index\" parameter: start index must not be greater than end index"
        );
        assert_eq!(
            ok("sort", vec![list(&["e", "d", "a", "x"])]),
            list(&["a", "d", "e", "x"])
        );
        assert_eq!(
            ok("sort", vec![nums(&[3.0, 1.0, 11.0])]),
            list(&["1", "11", "3"])
        );
        assert_eq!(
            err("sort", vec![Value::Array(vec![s("a"), Value::Null])]),
            "given list element 1 is null; a null string cannot be sorted"
        );
        assert_eq!(
            ok("reverse", vec![nums(&[1.0, 2.0, 3.0])]),
            nums(&[3.0, 2.0, 1.0])
        );
        assert_eq!(
            err("reverse", vec![s("abc")]),
            "invalid value for \"list\" parameter: can only reverse list or tuple values, not string"
        );
    }

    #[test]
    fn chunklist_sum_docs() {
        let abc = list(&["a", "b", "c", "d", "e"]);
        assert_eq!(
            ok("chunklist", vec![abc.clone(), 2.into()]),
            Value::Array(vec![list(&["a", "b"]), list(&["c", "d"]), list(&["e"])])
        );
        assert_eq!(
            ok("chunklist", vec![abc.clone(), 0.into()]),
            Value::Array(vec![abc.clone()])
        );
        assert_eq!(
            err("chunklist", vec![abc, (-1).into()]),
            "the size argument must be positive"
        );
        assert_eq!(ok("sum", vec![nums(&[10.0, 13.0, 6.0, 4.5])]), 33.5.into());
        assert_eq!(ok("sum", vec![nums(&[1.0, 2.0])]), 3.into());
        assert_eq!(ok("sum", vec![nums(&[9.2e18, 9.2e18])]), 1.84e19.into());
        assert_eq!(
            err("sum", vec![list(&[])]),
            "invalid value for \"list\" parameter: cannot sum an empty list"
        );
        assert_eq!(
            err("sum", vec![list(&["x"])]),
            "invalid value for \"list\" parameter: argument must be list, set, or tuple of number values"
        );
    }

    #[test]
    fn flatten_distinct_compact_docs() {
        let nested = Value::Array(vec![list(&["a", "b"]), list(&[]), list(&["c"])]);
        assert_eq!(ok("flatten", vec![nested]), list(&["a", "b", "c"]));
        let deep = Value::Array(vec![
            Value::Array(vec![list(&["a", "b"]), list(&[])]),
            list(&["c"]),
        ]);
        assert_eq!(ok("flatten", vec![deep]), list(&["a", "b", "c"]));
        assert_eq!(
            err("flatten", vec![s("a")]),
            "can only flatten lists, sets and tuples"
        );
        assert_eq!(
            ok("distinct", vec![list(&["a", "b", "a", "c", "d", "b"])]),
            list(&["a", "b", "c", "d"])
        );
        assert!(call("distinct", vec![s("a")]).is_err());
        let with_null = Value::Array(vec![s("a"), s(""), s("b"), Value::Null, s("c")]);
        assert_eq!(ok("compact", vec![with_null]), list(&["a", "b", "c"]));
        assert!(call("compact", vec![Value::Array(vec![list(&[])])]).is_err());
    }
}
