//! IP network functions: `cidrhost`, `cidrnetmask`, `cidrsubnet` and
//! `cidrsubnets`, with the error texts of Terraform and go-cidr.
//!
//! Parsing, masking, containment and formatting come from `ipnet`; ipnet
//! has no "n-th subnet / n-th host" operation, so those offsets are added
//! to the network address as 128-bit integers here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hcl::Value;
use hcl::eval::FuncArgs;
use ipnet::IpNet;

use super::conversion::{num_to_string, want_int, want_num, want_str};

fn parse_cidr(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("invalid CIDR expression: invalid CIDR address: {s}"))
}

fn addr_bits(net: &IpNet) -> u8 {
    net.max_prefix_len()
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Builds an address of the same family as `like`; callers keep `n` within
/// the family's width.
fn from_u128(like: &IpNet, n: u128) -> IpAddr {
    match like {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX))),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

fn make_net(like: &IpNet, n: u128, prefix: u8) -> IpNet {
    // The prefix is always within the family's width at the call sites.
    IpNet::new(from_u128(like, n), prefix)
        .map(|net| net.trunc())
        .unwrap_or(*like)
}

/// 2^bits - 1 without overflowing at 128 bits.
fn max_for(bits: u32) -> u128 {
    1u128.checked_shl(bits).map_or(u128::MAX, |v| v - 1)
}

/// A whole number that may be as large as an IPv6 host or subnet number.
fn want_big(v: &Value, param: &str) -> Result<i128, String> {
    let n = want_num(v, param)?;
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => Ok(i128::from(i)),
        (_, Some(u), _) => Ok(i128::from(u)),
        _ => want_int(v, param).map(i128::from),
    }
}

pub(crate) fn cidrhost(args: FuncArgs) -> Result<Value, String> {
    let prefix = want_str(&args[0], "prefix")?;
    let hostnum = want_big(&args[1], "hostnum")?;
    let net = parse_cidr(&prefix)?;
    let parent = net.prefix_len();
    let max = max_for(u32::from(addr_bits(&net) - parent));
    let too_big = || {
        format!(
            "prefix of {parent} does not accommodate a host numbered {}",
            num_to_string(&want_num(&args[1], "hostnum").unwrap_or(hcl::Number::from(0)))
        )
    };
    // Negative host numbers count back from the last address (-1 is last).
    let offset = if hostnum < 0 {
        let back = hostnum.unsigned_abs() - 1;
        if back > max {
            return Err(too_big());
        }
        max - back
    } else {
        let n = hostnum.unsigned_abs();
        if n > max {
            return Err(too_big());
        }
        n
    };
    let ip = from_u128(&net, to_u128(net.network()) | offset);
    Ok(Value::String(ip.to_string()))
}

pub(crate) fn cidrnetmask(args: FuncArgs) -> Result<Value, String> {
    let prefix = want_str(&args[0], "prefix")?;
    let net = parse_cidr(&prefix)?;
    match net {
        IpNet::V4(v4) => Ok(Value::String(v4.netmask().to_string())),
        IpNet::V6(_) => Err(format!("IPv6 addresses cannot have a netmask: {prefix}")),
    }
}

pub(crate) fn cidrsubnet(args: FuncArgs) -> Result<Value, String> {
    let prefix = want_str(&args[0], "prefix")?;
    let newbits = want_int(&args[1], "newbits")?;
    let netnum = want_big(&args[2], "netnum")?;
    let net = parse_cidr(&prefix)?;
    let parent = net.prefix_len();
    let bits = addr_bits(&net);
    let new_len = i64::from(parent) + newbits;
    if newbits < 0 || new_len > i64::from(bits) {
        return Err(format!(
            "insufficient address space to extend prefix of {parent} by {newbits}"
        ));
    }
    let new_len = u8::try_from(new_len).unwrap_or(bits);
    let max = max_for(u32::from(new_len - parent));
    if netnum < 0 || netnum.unsigned_abs() > max {
        return Err(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
        ));
    }
    let shift = u32::from(bits - new_len);
    let offset = netnum.unsigned_abs().checked_shl(shift).unwrap_or(0);
    let sub = make_net(&net, to_u128(net.network()) | offset, new_len);
    Ok(Value::String(sub.to_string()))
}

/// go-cidr's NextSubnet: the subnet of length `len` that follows the one
/// containing the last address of `current`; `None` when it wraps around.
fn next_subnet(current: &IpNet, len: u8) -> Option<IpNet> {
    let bits = addr_bits(current);
    let last = to_u128(current.broadcast());
    let host = max_for(u32::from(bits - len));
    let next = (last | host).checked_add(1)?;
    if next > max_for(u32::from(bits)) {
        return None;
    }
    Some(make_net(current, next, len))
}

pub(crate) fn cidrsubnets(args: FuncArgs) -> Result<Value, String> {
    let prefix = want_str(&args[0], "prefix")?;
    let net = parse_cidr(&prefix)?;
    let start = i64::from(net.prefix_len());
    let bits = addr_bits(&net);
    let mut current: Option<IpNet> = None;
    let mut out = Vec::new();
    for arg in &args[1..] {
        let newbits = want_int(arg, "newbits")?;
        if newbits < 1 {
            return Err("must extend prefix by at least one bit".to_string());
        }
        if newbits > 32 {
            return Err("may not extend prefix by more than 32 bits".to_string());
        }
        let len = start + newbits;
        if len > i64::from(bits) {
            let family = if bits == 32 { "IPv4" } else { "IPv6" };
            return Err(format!(
                "would extend prefix to {len} bits, which is too long for an {family} address"
            ));
        }
        let len = u8::try_from(len).unwrap_or(bits);
        // go-cidr starts from the subnet just below the base network, which
        // wraps around (and fails) for networks at address zero; the first
        // subnet is always the base address at the new length, so start there.
        let next = match current {
            None => make_net(&net, to_u128(net.network()), len),
            Some(cur) => next_subnet(&cur, len)
                .filter(|n| net.contains(&n.network()))
                .ok_or_else(|| {
                    format!(
                        "not enough remaining address space for a subnet with a prefix of {len} bits after {cur}"
                    )
                })?,
        };
        out.push(Value::String(next.to_string()));
        current = Some(next);
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use hcl::Value;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn cidrhost_docs() {
        assert_eq!(
            call("cidrhost", vec![s("10.12.112.0/20"), 16.into()]),
            Ok(s("10.12.112.16"))
        );
        assert_eq!(
            call("cidrhost", vec![s("10.12.112.0/20"), 268.into()]),
            Ok(s("10.12.113.12"))
        );
        assert_eq!(
            call(
                "cidrhost",
                vec![s("fd00:fd12:3456:7890:00a2::/72"), 34.into()]
            ),
            Ok(s("fd00:fd12:3456:7890::22"))
        );
        assert_eq!(
            call("cidrhost", vec![s("10.12.112.0/20"), (-1).into()]),
            Ok(s("10.12.127.255"))
        );
        assert_eq!(
            call("cidrhost", vec![s("192.168.1.0/24"), (-256).into()]),
            Ok(s("192.168.1.0"))
        );
        assert_eq!(
            call("cidrhost", vec![s("192.168.1.0/24"), 256.into()]),
            Err("prefix of 24 does not accommodate a host numbered 256".into())
        );
        assert_eq!(
            call("cidrhost", vec![s("192.168.1.0/24"), (-257).into()]),
            Err("prefix of 24 does not accommodate a host numbered -257".into())
        );
        assert_eq!(
            call("cidrhost", vec![s("not-a-cidr"), 1.into()]),
            Err("invalid CIDR expression: invalid CIDR address: not-a-cidr".into())
        );
        assert_eq!(
            call("cidrhost", vec![s("::/0"), (-1).into()]),
            Ok(s("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
    }

    #[test]
    fn cidrnetmask_docs() {
        assert_eq!(
            call("cidrnetmask", vec![s("172.16.0.0/12")]),
            Ok(s("255.240.0.0"))
        );
        assert_eq!(
            call("cidrnetmask", vec![s("10.0.0.0/32")]),
            Ok(s("255.255.255.255"))
        );
        assert_eq!(
            call("cidrnetmask", vec![s("fd00::/8")]),
            Err("IPv6 addresses cannot have a netmask: fd00::/8".into())
        );
    }

    #[test]
    fn cidrsubnet_docs() {
        assert_eq!(
            call("cidrsubnet", vec![s("172.16.0.0/12"), 4.into(), 2.into()]),
            Ok(s("172.18.0.0/16"))
        );
        assert_eq!(
            call("cidrsubnet", vec![s("10.1.2.0/24"), 4.into(), 15.into()]),
            Ok(s("10.1.2.240/28"))
        );
        assert_eq!(
            call(
                "cidrsubnet",
                vec![s("fd00:fd12:3456:7890::/56"), 16.into(), 162.into()]
            ),
            Ok(s("fd00:fd12:3456:7800:a200::/72"))
        );
        assert_eq!(
            call("cidrsubnet", vec![s("10.1.2.3/24"), 0.into(), 0.into()]),
            Ok(s("10.1.2.0/24"))
        );
        assert_eq!(
            call("cidrsubnet", vec![s("10.0.0.0/24"), 10.into(), 0.into()]),
            Err("insufficient address space to extend prefix of 24 by 10".into())
        );
        assert_eq!(
            call("cidrsubnet", vec![s("10.0.0.0/8"), 30.into(), 100.into()]),
            Err("insufficient address space to extend prefix of 8 by 30".into())
        );
        assert_eq!(
            call("cidrsubnet", vec![s("10.0.0.0/0"), 30.into(), 100.into()]),
            Ok(s("0.0.1.144/30"))
        );
        assert_eq!(
            call("cidrsubnet", vec![s("10.0.0.0/16"), 4.into(), 100.into()]),
            Err("prefix extension of 4 does not accommodate a subnet numbered 100".into())
        );
        assert_eq!(
            call("cidrsubnet", vec![s("::/0"), 30.into(), 100.into()]).map(|_| ()),
            Ok(())
        );
    }

    #[test]
    fn cidrsubnets_docs() {
        let list = |xs: &[&str]| Value::from_iter(xs.iter().map(|x| s(x)));
        assert_eq!(
            call(
                "cidrsubnets",
                vec![s("10.1.0.0/16"), 4.into(), 4.into(), 8.into(), 4.into()]
            ),
            Ok(list(&[
                "10.1.0.0/20",
                "10.1.16.0/20",
                "10.1.32.0/24",
                "10.1.48.0/20"
            ]))
        );
        assert_eq!(
            call(
                "cidrsubnets",
                vec![
                    s("fd00:fd12:3456:7890::/56"),
                    16.into(),
                    16.into(),
                    16.into(),
                    32.into()
                ]
            ),
            Ok(list(&[
                "fd00:fd12:3456:7800::/72",
                "fd00:fd12:3456:7800:100::/72",
                "fd00:fd12:3456:7800:200::/72",
                "fd00:fd12:3456:7800:300::/88"
            ]))
        );
        assert_eq!(
            call("cidrsubnets", vec![s("0.0.0.0/0"), 1.into(), 1.into()]),
            Ok(list(&["0.0.0.0/1", "128.0.0.0/1"]))
        );
        assert_eq!(call("cidrsubnets", vec![s("10.0.0.0/8")]), Ok(list(&[])));
        assert_eq!(
            call("cidrsubnets", vec![s("10.0.0.0/30"), 1.into(), 1.into(), 1.into()]),
            Err("not enough remaining address space for a subnet with a prefix of 31 bits after 10.0.0.2/31".into())
        );
        assert_eq!(
            call("cidrsubnets", vec![s("10.0.0.0/30"), 3.into()]),
            Err("would extend prefix to 33 bits, which is too long for an IPv4 address".into())
        );
        assert_eq!(
            call("cidrsubnets", vec![s("10.0.0.0/8"), 0.into()]),
            Err("must extend prefix by at least one bit".into())
        );
        assert_eq!(
            call("cidrsubnets", vec![s("::/0"), 33.into()]),
            Err("may not extend prefix by more than 32 bits".into())
        );
    }
}
