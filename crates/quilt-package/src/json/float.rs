//! Python's `repr(float)`, which `json.dumps` uses for floats.
//!
//! Hand-written because no crate prints Python's layout. The digits come from `ryu`: the
//! shortest that round-trip, closest to the exact value, and on an exact tie the even one —
//! as Python's `repr` (David Gay's `dtoa` mode 0). Rust's own `{:e}` rounds such ties up
//! (`627955234282249.25` → `…249.3`, Python prints `…249.2`), found by the quilt3
//! cross-check. Python switches to exponent form when the decimal exponent is below -4
//! or at least 16, writes the exponent signed with at least two digits (`1e-05`, `1e+16`), and adds
//! `.0` to whole numbers in positional form (`1.0`, `1000000000000000.0`).

/// Formats `f` exactly as Python's `repr(f)` / `json.dumps(f)` does, including
/// `Infinity`, `-Infinity` and `NaN` (what `json.dumps` prints with its default
/// `allow_nan=True`).
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let mut buf = ryu::Buffer::new();
    let (digits, decpt) = shortest_digits(buf.format_finite(f.abs()));
    let exp = decpt - 1;
    let mut out = String::with_capacity(digits.len() + 8);
    if f.is_sign_negative() {
        out.push('-');
    }
    if !(-4 < decpt && decpt <= 16) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let decpt = decpt as usize;
        if decpt >= digits.len() {
            out.push_str(&digits);
            for _ in digits.len()..decpt {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..decpt]);
            out.push('.');
            out.push_str(&digits[decpt..]);
        }
    }
    out
}

/// Splits ryu's output (`1e16`, `1.5e-7`, `0.0001`, `123.0`, …) into significant digits
/// and Python's `decpt` (the decimal point sits after `decpt` digits).
fn shortest_digits(text: &str) -> (String, i32) {
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = format!("{int_part}{frac_part}");
    let mut decpt = int_part.len() as i32 + exp;
    let trimmed_start = all.trim_start_matches('0');
    decpt -= (all.len() - trimmed_start.len()) as i32;
    let digits = trimmed_start.trim_end_matches('0');
    if digits.is_empty() {
        ("0".to_owned(), 1)
    } else {
        (digits.to_owned(), decpt)
    }
}

#[cfg(test)]
mod tests {
    use super::python_float_repr as r;

    #[test]
    fn matches_python_repr_forms() {
        // Each pair is (value, what CPython 3 prints for repr(value)).
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (2.5, "2.5"),
            (1e-7, "1e-07"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1.2345e-5, "1.2345e-05"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (9007199254740993.0, "9007199254740992.0"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
            (1e-100, "1e-100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (123.456, "123.456"),
            (627955234282249.2, "627955234282249.2"),
            (123456.0, "123456.0"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(r(*v), *want, "repr({v:e})");
        }
    }
}
