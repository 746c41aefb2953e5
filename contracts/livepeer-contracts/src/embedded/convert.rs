//! Conversions between the ethers types (primitive-types 0.12) and revm's (alloy-primitives).

use ethers::types::{Address as EAddress, Bytes as EBytes, H256 as EH256, U256 as EU256};
use revm::primitives::{Address as RAddress, B256, Bytes as RBytes, U256 as RU256};

pub(crate) fn addr_to_revm(a: EAddress) -> RAddress {
    RAddress::from(a.0)
}

pub(crate) fn addr_from_revm(a: RAddress) -> EAddress {
    EAddress::from(a.into_array())
}

pub(crate) fn u256_to_revm(u: EU256) -> RU256 {
    RU256::from_limbs(u.0)
}

pub(crate) fn u256_from_revm(u: RU256) -> EU256 {
    EU256(u.into_limbs())
}

pub(crate) fn h256_from_revm(b: B256) -> EH256 {
    EH256(b.0)
}

pub(crate) fn bytes_to_revm(b: &EBytes) -> RBytes {
    RBytes::copy_from_slice(b.as_ref())
}

pub(crate) fn bytes_from_revm(b: &RBytes) -> EBytes {
    EBytes::from(b.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let a = EAddress::repeat_byte(0x5a);
        assert_eq!(addr_from_revm(addr_to_revm(a)), a);
        let u = EU256::MAX - 12345;
        assert_eq!(u256_from_revm(u256_to_revm(u)), u);
        assert_eq!(u256_to_revm(EU256::from(7)), RU256::from(7));
    }
}
