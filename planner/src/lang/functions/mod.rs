//! Terraform's built-in function library for fleetform, as `hcl-rs`
//! function definitions.
//!
//! Every function follows Terraform's documented semantics and returns
//! Terraform's error text (the part after `Call to function "x" failed: `).
//! Unknown and sensitive values are handled by the evaluator before any of
//! these functions run, and `try`/`can` are evaluator built-ins.

use std::sync::OnceLock;

use hcl::eval::{Context, Func, FuncDef, ParamType};

mod added;
mod collections;
mod conversion;
mod encoding;
mod files;
mod hashing;
mod network;
mod numeric;
mod strings;
mod time;
pub(crate) mod typed;

/// One row of the function table: hcl-rs checks the arity from `params` and
/// `variadic`; every parameter is `Any` so type errors carry Terraform's
/// wording instead of hcl-rs's.
struct Entry {
    name: &'static str,
    func: Func,
    params: usize,
    variadic: bool,
}

const fn f(name: &'static str, func: Func, params: usize, variadic: bool) -> Entry {
    Entry {
        name,
        func,
        params,
        variadic,
    }
}

/// The single table of functions, sorted by name so `lookup` can bisect it.
static TABLE: &[Entry] = &[
    f("abs", numeric::abs, 1, false),
    f("abspath", files::abspath, 1, false),
    f("alltrue", collections::alltrue, 1, false),
    f("anytrue", collections::anytrue, 1, false),
    f("base64decode", encoding::base64decode, 1, false),
    f("base64encode", encoding::base64encode, 1, false),
    f("base64gzip", encoding::base64gzip, 1, false),
    f("base64sha256", hashing::base64sha256, 1, false),
    f("basename", files::basename, 1, false),
    f("bcrypt", hashing::bcrypt, 1, true),
    f("ceil", numeric::ceil, 1, false),
    f("chomp", strings::chomp, 1, false),
    f("chunklist", collections::chunklist, 2, false),
    f("cidrhost", network::cidrhost, 2, false),
    f("cidrnetmask", network::cidrnetmask, 1, false),
    f("cidrsubnet", network::cidrsubnet, 3, false),
    f("cidrsubnets", network::cidrsubnets, 1, true),
    f("coalesce", collections::coalesce, 0, true),
    f("coalescelist", collections::coalescelist, 0, true),
    f("compact", collections::compact, 1, false),
    f("concat", collections::concat, 0, true),
    f("contains", collections::contains, 2, false),
    f("dirname", files::dirname, 1, false),
    f("distinct", collections::distinct, 1, false),
    f("element", collections::element, 2, false),
    f("endswith", strings::endswith, 2, false),
    f("file", files::file, 1, false),
    f("filebase64", files::filebase64, 1, false),
    f("filebase64sha256", files::filebase64sha256, 1, false),
    f("filebase64sha512", files::filebase64sha512, 1, false),
    f("fileexists", files::fileexists, 1, false),
    f("filemd5", files::filemd5, 1, false),
    f("filesha1", files::filesha1, 1, false),
    f("filesha256", files::filesha256, 1, false),
    f("filesha512", files::filesha512, 1, false),
    f("flatten", collections::flatten, 1, false),
    f("floor", numeric::floor, 1, false),
    f("format", strings::format, 1, true),
    f("formatdate", time::formatdate, 2, false),
    f("formatlist", strings::formatlist, 1, true),
    f("indent", strings::indent, 2, false),
    f("index", collections::index, 2, false),
    f("join", strings::join, 1, true),
    f("jsondecode", encoding::jsondecode, 1, false),
    f("jsonencode", encoding::jsonencode, 1, false),
    f("keys", collections::keys, 1, false),
    f("length", collections::length, 1, false),
    f("log", numeric::log, 2, false),
    f("lookup", collections::lookup, 2, true),
    f("lower", strings::lower, 1, false),
    f("max", numeric::max, 0, true),
    f("md5", hashing::md5, 1, false),
    f("merge", collections::merge, 0, true),
    f("min", numeric::min, 0, true),
    f("one", collections::one, 1, false),
    f("parseint", numeric::parseint, 2, false),
    f("pow", numeric::pow, 2, false),
    f("range", collections::range, 0, true),
    f("regex", strings::regex, 2, false),
    f("regexall", strings::regexall, 2, false),
    f("replace", strings::replace, 3, false),
    f("reverse", collections::reverse, 1, false),
    f("rsadecrypt", hashing::rsadecrypt, 2, false),
    f("setintersection", collections::setintersection, 1, true),
    f("setsubtract", collections::setsubtract, 2, false),
    f("setunion", collections::setunion, 1, true),
    f("sha1", hashing::sha1, 1, false),
    f("sha256", hashing::sha256, 1, false),
    f("sha512", hashing::sha512, 1, false),
    f("signum", numeric::signum, 1, false),
    f("slice", collections::slice, 3, false),
    f("sort", collections::sort, 1, false),
    f("split", strings::split, 2, false),
    f("startswith", strings::startswith, 2, false),
    f("strrev", strings::strrev, 1, false),
    f("substr", strings::substr, 3, false),
    f("sum", collections::sum, 1, false),
    f("templatefile", files::templatefile, 2, false),
    f("timeadd", time::timeadd, 2, false),
    f("timestamp", time::timestamp, 0, false),
    f("title", strings::title, 1, false),
    f("tobool", conversion::tobool, 1, false),
    f("tolist", conversion::tolist, 1, false),
    f("tomap", conversion::tomap, 1, false),
    f("tonumber", conversion::tonumber, 1, false),
    f("toset", conversion::toset, 1, false),
    f("tostring", conversion::tostring, 1, false),
    f("trim", strings::trim, 2, false),
    f("trimprefix", strings::trimprefix, 2, false),
    f("trimspace", strings::trimspace, 1, false),
    f("trimsuffix", strings::trimsuffix, 2, false),
    f("upper", strings::upper, 1, false),
    f("urlencode", encoding::urlencode, 1, false),
    f("uuidv5", hashing::uuidv5, 2, false),
    f("values", collections::values, 1, false),
    f("yamldecode", encoding::yamldecode, 1, false),
    f("yamlencode", encoding::yamlencode, 1, false),
    f("zipmap", collections::zipmap, 2, false),
];

fn build(entry: &Entry) -> FuncDef {
    let mut builder = FuncDef::builder().params(std::iter::repeat_n(ParamType::Any, entry.params));
    if entry.variadic {
        builder = builder.variadic_param(ParamType::Any);
    }
    builder.build(entry.func)
}

/// Every function name, sorted; used for "did you mean" suggestions.
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| TABLE.iter().map(|e| e.name).collect())
}

/// How many parameters a function of the hcl-rs table takes, and whether the last repeats.
pub fn arity(name: &str) -> Option<(usize, bool)> {
    TABLE
        .binary_search_by(|e| e.name.cmp(name))
        .ok()
        .map(|i| (TABLE[i].params, TABLE[i].variadic))
}

/// The definition of one function, or None when no function has that name.
pub fn lookup(name: &str) -> Option<FuncDef> {
    TABLE
        .binary_search_by(|e| e.name.cmp(name))
        .ok()
        .map(|i| build(&TABLE[i]))
}

/// Declares every function in an hcl-rs evaluation context (templatefile uses
/// this for its templates).
pub fn declare_all(ctx: &mut Context<'_>) {
    for entry in TABLE {
        ctx.declare_func(entry.name, build(entry));
    }
}

/// Shorthands the function families' tests share.
#[cfg(test)]
pub(crate) mod testing {
    pub(crate) use super::call;
    pub use hcl::Value;

    /// A string value.
    pub fn s(x: &str) -> Value {
        Value::from(x)
    }

    /// A list of strings.
    pub fn list(xs: &[&str]) -> Value {
        Value::from_iter(xs.iter().map(|x| s(x)))
    }

    /// A list of numbers.
    pub fn nums(xs: &[f64]) -> Value {
        Value::from_iter(xs.iter().map(|x| Value::from(*x)))
    }

    /// The result of a call that must succeed.
    pub fn ok(name: &str, args: Vec<Value>) -> Value {
        call(name, args).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The error of a call that must fail.
    pub fn err(name: &str, args: Vec<Value>) -> String {
        call(name, args).unwrap_err()
    }
}

/// Calls a function exactly as the evaluator does: through `lookup`, as a
/// function call expression evaluated in a context, so arity is checked too.
#[cfg(test)]
pub(crate) fn call(name: &str, args: Vec<hcl::Value>) -> Result<hcl::Value, String> {
    use hcl::eval::{ErrorKind, Evaluate};
    use hcl::expr::{Expression, FuncCall};

    let def = lookup(name).ok_or_else(|| format!("no function named {name}"))?;
    let mut ctx = Context::new();
    ctx.declare_func(name, def);
    let mut builder = FuncCall::builder(name);
    for arg in args {
        builder = builder.arg(Expression::from(arg));
    }
    builder
        .build()
        .evaluate(&ctx)
        .map_err(|err| match err.kind() {
            ErrorKind::FuncCall(_, msg) => msg.clone(),
            other => other.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(names().len(), TABLE.len());
    }

    #[test]
    fn lookup_finds_every_name_and_nothing_else() {
        for name in names() {
            assert!(lookup(name).is_some(), "{name}");
        }
        assert!(lookup("nope").is_none());
        assert!(lookup("try").is_none());
    }

    #[test]
    fn arity_is_checked_by_hcl() {
        let err = call("upper", vec![]).unwrap_err();
        assert_eq!(err, "expected 1 positional arguments, got 0");
    }

    #[test]
    fn declare_all_makes_functions_callable() {
        use hcl::eval::Evaluate;
        let mut ctx = Context::new();
        declare_all(&mut ctx);
        let expr: hcl::Expression = "upper(join(\"-\", [\"a\", \"b\"]))".parse().unwrap();
        assert_eq!(expr.evaluate(&ctx), Ok(hcl::Value::from("A-B")));
    }

    /// Odd arguments in every position must give errors, never panics.
    #[test]
    fn no_function_panics_on_odd_arguments() {
        use hcl::Value;
        let pool = [
            Value::Null,
            Value::from(""),
            Value::from("%[9]*.%"),
            Value::from(-1),
            Value::from(1.5),
            Value::from(i64::MIN),
            Value::from(u64::MAX),
            Value::from(1e300),
            Value::Array(vec![Value::Array(vec![])]),
            Value::from_iter([("a", Value::Null)]),
            Value::from(true),
            Value::from("::/0"),
            Value::from("🇩🇪e\u{301}'\n"),
            Value::from("2017-11-22T00:00:00+99:99"),
        ];
        for name in names() {
            for a in &pool {
                let _ = call(name, vec![a.clone()]);
                for b in &pool {
                    let _ = call(name, vec![a.clone(), b.clone()]);
                    for c in &pool {
                        let _ = call(name, vec![a.clone(), b.clone(), c.clone()]);
                    }
                }
            }
        }
    }
}
