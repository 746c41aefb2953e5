//! Ethereum primitives: addresses, 256-bit integers and hashes, with strict parsing and
//! EIP-55 checksummed display, plus the unit newtypes [`Wei`] and [`Pixels`].
//!
//! [`Address`], [`U256`] and [`H256`] are the primitive-types 0.12 types that ethers 2
//! re-exports, so values pass between this SDK and ethers without conversion.

use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::crypto::keccak256;
use crate::error::ParseError;

/// A 20-byte Ethereum account address (the same type as `ethers::types::Address`).
pub type Address = primitive_types::H160;
/// A 256-bit unsigned integer (the same type as `ethers::types::U256`).
pub type U256 = primitive_types::U256;
/// A 32-byte hash (the same type as `ethers::types::H256`).
pub type H256 = primitive_types::H256;

fn strip_0x(s: &str) -> &str {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s)
}

/// Decodes exactly `N` bytes of hex, with or without a `0x` prefix.
pub fn parse_hex_array<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], ParseError> {
    let h = strip_0x(s.trim());
    if h.len() != 2 * N {
        return Err(ParseError::BadLength {
            what,
            expected: N,
            got: h.len() / 2,
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(h, &mut out).map_err(|e| ParseError::BadHex {
        what,
        reason: e.to_string(),
    })?;
    Ok(out)
}

/// Decodes a hex string of any even length, with or without a `0x` prefix, up to `max` bytes.
pub fn parse_hex_bytes(what: &'static str, s: &str, max: usize) -> Result<Vec<u8>, ParseError> {
    let h = strip_0x(s.trim());
    if h.len() / 2 > max {
        return Err(ParseError::TooLong {
            what,
            len: h.len() / 2,
            max,
        });
    }
    hex::decode(h).map_err(|e| ParseError::BadHex {
        what,
        reason: e.to_string(),
    })
}

/// Parses an address from hex (`0x` optional).
///
/// All-lowercase and all-uppercase forms are accepted as they are; a mixed-case form must
/// carry a valid EIP-55 checksum, so a mistyped address is caught rather than paid.
pub fn parse_address(s: &str) -> Result<Address, ParseError> {
    let s = s.trim();
    let bytes: [u8; 20] = parse_hex_array("address", s)?;
    let addr = Address::from(bytes);
    let digits = strip_0x(s);
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        let expected = to_checksum(&addr);
        if expected[2..] != *digits {
            return Err(ParseError::BadChecksum { expected });
        }
    }
    Ok(addr)
}

/// The EIP-55 checksummed form of an address, `0x`-prefixed.
pub fn to_checksum(addr: &Address) -> String {
    let lower = hex::encode(addr.as_bytes());
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        if c.is_ascii_alphabetic() && nibble >= 8 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Displays an address in EIP-55 checksummed form: `format!("{}", Checksummed(&addr))`.
///
/// primitive-types' own `Display` abbreviates addresses (`0x1234…abcd`), which is no use in
/// logs or configuration files.
#[derive(Clone, Copy, Debug)]
pub struct Checksummed<'a>(pub &'a Address);

impl fmt::Display for Checksummed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_checksum(self.0))
    }
}

/// Convenience methods on [`Address`].
pub trait AddressExt {
    /// The EIP-55 checksummed form, `0x`-prefixed.
    fn checksummed(&self) -> Checksummed<'_>;
}

impl AddressExt for Address {
    fn checksummed(&self) -> Checksummed<'_> {
        Checksummed(self)
    }
}

/// Parses a 32-byte hash from hex (`0x` optional).
pub fn parse_h256(s: &str) -> Result<H256, ParseError> {
    parse_hex_array::<32>("hash", s).map(H256::from)
}

/// Parses an unsigned 256-bit integer from decimal or `0x`-prefixed hex.
///
/// Decimal accepts `_` separators and an optional unit suffix through [`parse_wei`]; this
/// function accepts plain numbers only.
pub fn parse_u256(s: &str) -> Result<U256, ParseError> {
    const WHAT: &str = "integer";
    let t = s.trim();
    if t.is_empty() {
        return Err(ParseError::Empty { what: WHAT });
    }
    if t.len() > 100 {
        return Err(ParseError::TooLong {
            what: WHAT,
            len: t.len(),
            max: 100,
        });
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseError::number(
                WHAT,
                s,
                "not a hex number of at most 64 digits",
            ));
        }
        return U256::from_str_radix(h, 16).map_err(|_| ParseError::number(WHAT, s, "bad hex"));
    }
    let digits: String = t.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::number(WHAT, s, "not a decimal number"));
    }
    U256::from_dec_str(&digits).map_err(|_| ParseError::number(WHAT, s, "larger than 2^256-1"))
}

/// An amount of ether in wei.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Wei(pub U256);

impl Wei {
    /// Zero wei.
    pub const ZERO: Wei = Wei(U256::zero());

    /// Wei from a `u128`.
    pub fn from_u128(v: u128) -> Self {
        Wei(U256::from(v))
    }

    /// `self + rhs`, or `None` on overflow.
    pub fn checked_add(self, rhs: Wei) -> Option<Wei> {
        self.0.checked_add(rhs.0).map(Wei)
    }

    /// `self - rhs`, or `None` when `rhs > self`.
    pub fn checked_sub(self, rhs: Wei) -> Option<Wei> {
        self.0.checked_sub(rhs.0).map(Wei)
    }

    /// `self - rhs`, floored at zero.
    pub fn saturating_sub(self, rhs: Wei) -> Wei {
        Wei(self.0.saturating_sub(rhs.0))
    }

    /// `self + rhs`, capped at the maximum.
    pub fn saturating_add(self, rhs: Wei) -> Wei {
        Wei(self.0.saturating_add(rhs.0))
    }

    /// Whether this is zero wei.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl Add for Wei {
    type Output = Wei;
    /// Saturating: amounts of wei never wrap around.
    fn add(self, rhs: Wei) -> Wei {
        self.saturating_add(rhs)
    }
}

impl Sub for Wei {
    type Output = Wei;
    /// Saturating at zero: amounts of wei never go negative.
    fn sub(self, rhs: Wei) -> Wei {
        self.saturating_sub(rhs)
    }
}

impl fmt::Display for Wei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} wei", self.0)
    }
}

impl From<U256> for Wei {
    fn from(v: U256) -> Self {
        Wei(v)
    }
}

impl FromStr for Wei {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_wei(s)
    }
}

/// Parses an amount of ether: a plain integer is wei; the suffixes `wei`, `gwei` and `eth`
/// (also `ether`) scale it, and `gwei`/`eth` accept a decimal fraction (`0.5eth`).
pub fn parse_wei(s: &str) -> Result<Wei, ParseError> {
    const WHAT: &str = "amount";
    let t = s.trim().to_ascii_lowercase();
    let (num, decimals) = if let Some(n) = t.strip_suffix("gwei") {
        (n.trim(), 9u32)
    } else if let Some(n) = t.strip_suffix("ether").or_else(|| t.strip_suffix("eth")) {
        (n.trim(), 18)
    } else if let Some(n) = t.strip_suffix("wei") {
        (n.trim(), 0)
    } else {
        (t.as_str(), 0)
    };
    if decimals == 0 || num.starts_with("0x") {
        return parse_u256(num).map(Wei);
    }
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if frac.len() > decimals as usize {
        return Err(ParseError::number(
            WHAT,
            s,
            "more decimal places than the unit has",
        ));
    }
    if int.is_empty() && frac.is_empty() {
        return Err(ParseError::Empty { what: WHAT });
    }
    let int = if int.is_empty() {
        U256::zero()
    } else {
        parse_u256(int)?
    };
    let frac_v = if frac.is_empty() {
        U256::zero()
    } else {
        parse_u256(frac)?
    };
    let scale = U256::exp10(decimals as usize);
    let frac_scale = U256::exp10(decimals as usize - frac.len());
    int.checked_mul(scale)
        .and_then(|v| v.checked_add(frac_v * frac_scale))
        .map(Wei)
        .ok_or_else(|| ParseError::number(WHAT, s, "larger than 2^256-1 wei"))
}

/// A count of pixels (width × height × frames), the unit work is priced in.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Pixels(pub u64);

impl Pixels {
    /// Zero pixels.
    pub const ZERO: Pixels = Pixels(0);

    /// `self + rhs`, capped at the maximum.
    pub fn saturating_add(self, rhs: Pixels) -> Pixels {
        Pixels(self.0.saturating_add(rhs.0))
    }
}

impl fmt::Display for Pixels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} px", self.0)
    }
}

/// A price as a ratio: `wei` per `pixels` (Livepeer's pricePerUnit / pixelsPerUnit), so
/// prices below one wei per pixel are exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PixelPrice {
    /// Wei paid per `pixels`.
    pub wei: U256,
    /// The number of pixels `wei` pays for; never zero.
    pub pixels: U256,
}

impl PixelPrice {
    /// A price of `wei` per `pixels`; `None` when `pixels` is zero.
    pub fn new(wei: U256, pixels: U256) -> Option<Self> {
        (!pixels.is_zero()).then_some(PixelPrice { wei, pixels })
    }

    /// A whole number of wei per pixel.
    pub fn per_pixel(wei: u64) -> Self {
        PixelPrice {
            wei: U256::from(wei),
            pixels: U256::one(),
        }
    }

    /// A free price.
    pub fn zero() -> Self {
        PixelPrice {
            wei: U256::zero(),
            pixels: U256::one(),
        }
    }

    /// The fee for `px` pixels, rounded up so the payee never loses a fraction of a wei.
    pub fn fee(&self, px: Pixels) -> Wei {
        let num = self.wei.full_mul(U256::from(px.0));
        let den = primitive_types::U512::from(self.pixels);
        let q = (num + den - 1) / den;
        Wei(U256::try_from(q).unwrap_or(U256::MAX))
    }

    /// Whether `self` is more than `factor` times `base` (compared exactly, as fractions).
    pub fn exceeds_multiple_of(&self, base: &PixelPrice, factor: u64) -> bool {
        // self.wei / self.pixels > factor * base.wei / base.pixels
        let lhs = self.wei.full_mul(base.pixels);
        let rhs = base.wei.full_mul(self.pixels) * primitive_types::U512::from(factor);
        lhs > rhs
    }
}

impl fmt::Display for PixelPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pixels == U256::one() {
            write!(f, "{} wei/px", self.wei)
        } else {
            write!(f, "{}/{} wei/px", self.wei, self.pixels)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_eip55_examples() {
        // The examples of EIP-55.
        for s in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let a = parse_address(s).unwrap();
            assert_eq!(to_checksum(&a), s);
            assert_eq!(a.checksummed().to_string(), s);
        }
    }

    #[test]
    fn address_rejects_bad_checksum_and_length() {
        let bad = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert!(matches!(
            parse_address(bad),
            Err(ParseError::BadChecksum { .. })
        ));
        assert!(parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").is_ok());
        assert!(parse_address("5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").is_ok());
        assert!(matches!(
            parse_address("0x1234"),
            Err(ParseError::BadLength { .. })
        ));
        assert!(matches!(
            parse_address("0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            Err(ParseError::BadHex { .. })
        ));
    }

    #[test]
    fn u256_and_wei_parsing() {
        assert_eq!(parse_u256("1_000").unwrap(), U256::from(1000));
        assert_eq!(parse_u256("0xff").unwrap(), U256::from(255));
        assert!(parse_u256("").is_err());
        assert!(parse_u256("-1").is_err());
        assert!(parse_u256(&"9".repeat(80)).is_err());
        assert_eq!(parse_wei("1gwei").unwrap(), Wei::from_u128(1_000_000_000));
        assert_eq!(
            parse_wei("0.5 eth").unwrap(),
            Wei::from_u128(500_000_000_000_000_000)
        );
        assert_eq!(parse_wei("12wei").unwrap(), Wei::from_u128(12));
        assert!(parse_wei("0.0000000001gwei").is_err());
        assert!(parse_wei("eth").is_err());
    }

    #[test]
    fn price_fee_rounds_up_and_compares_exactly() {
        let p = PixelPrice::new(U256::from(1), U256::from(3)).unwrap();
        assert_eq!(p.fee(Pixels(3)), Wei::from_u128(1));
        assert_eq!(p.fee(Pixels(4)), Wei::from_u128(2));
        assert_eq!(PixelPrice::per_pixel(2).fee(Pixels(10)), Wei::from_u128(20));
        assert!(PixelPrice::new(U256::one(), U256::zero()).is_none());
        let base = PixelPrice::per_pixel(10);
        assert!(!PixelPrice::per_pixel(20).exceeds_multiple_of(&base, 2));
        assert!(PixelPrice::per_pixel(21).exceeds_multiple_of(&base, 2));
        let max = PixelPrice::per_pixel(u64::MAX);
        let _ = PixelPrice {
            wei: U256::MAX,
            ..max
        }
        .fee(Pixels(u64::MAX));
    }

    #[test]
    fn wei_arithmetic_saturates() {
        assert_eq!(Wei::from_u128(1) - Wei::from_u128(2), Wei::ZERO);
        assert_eq!(Wei(U256::MAX) + Wei::from_u128(1), Wei(U256::MAX));
        assert_eq!(Wei::from_u128(5).checked_sub(Wei::from_u128(6)), None);
    }
}
