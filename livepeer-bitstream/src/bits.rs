//! A bit reader over an H.264 RBSP or an AV1 OBU payload, with the exp-Golomb codes of
//! ITU-T H.264 §9.1, and the removal of H.264's emulation-prevention bytes.

use crate::BitstreamError;

/// Removes emulation-prevention bytes (`00 00 03` → `00 00`), turning a NAL payload into its
/// raw byte sequence payload. At most `max` bytes are produced (headers need only the start).
pub fn unescape(nal: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len().min(max));
    let mut zeros = 0usize;
    for &b in nal {
        if out.len() >= max {
            break;
        }
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads bits most-significant first; every read past the end is an error, never a panic.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    #[cold]
    fn eof() -> BitstreamError {
        BitstreamError::Truncated("RBSP ended inside a syntax element")
    }

    /// Bits read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// One bit.
    pub fn bit(&mut self) -> Result<bool, BitstreamError> {
        let byte = self.data.get(self.pos / 8).ok_or_else(Self::eof)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Reads `n ≤ 32` bits as an unsigned number; more than 32 is an error.
    pub fn bits(&mut self, n: u32) -> Result<u32, BitstreamError> {
        if n > 32 {
            return Err(BitstreamError::Invalid(
                "more than 32 bits read as one number",
            ));
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v as u32)
    }

    /// Skips `n` bits.
    pub fn skip(&mut self, n: u32) -> Result<(), BitstreamError> {
        let end = self.pos.saturating_add(n as usize);
        if end > self.data.len().saturating_mul(8) {
            return Err(Self::eof());
        }
        self.pos = end;
        Ok(())
    }

    /// `ue(v)`: unsigned exp-Golomb, bounded to 32 leading zeros.
    pub fn ue(&mut self) -> Result<u32, BitstreamError> {
        let mut zeros = 0u32;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(BitstreamError::Invalid(
                    "exp-Golomb code longer than 32 bits",
                ));
            }
        }
        let rest = u64::from(self.bits(zeros)?);
        let v = (1u64 << zeros) - 1 + rest;
        u32::try_from(v).map_err(|_| BitstreamError::Invalid("exp-Golomb value overflows"))
    }

    /// `se(v)`: signed exp-Golomb.
    pub fn se(&mut self) -> Result<i32, BitstreamError> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        i32::try_from(v).map_err(|_| BitstreamError::Invalid("exp-Golomb value overflows"))
    }

    /// `ue(v)` that must not exceed `max`; `what` names the bound broken.
    pub fn ue_max(&mut self, max: u32, what: &'static str) -> Result<u32, BitstreamError> {
        let v = self.ue()?;
        if v > max {
            return Err(BitstreamError::Invalid(what));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_values() {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0, 1, 2, 3, 4
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut r = BitReader::new(&data);
        let got: Vec<u32> = (0..5).map(|_| r.ue().unwrap()).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert_eq!(r.position(), 17);
        let mut r = BitReader::new(&data);
        let got: Vec<i32> = (0..5).map(|_| r.se().unwrap()).collect();
        assert_eq!(got, vec![0, 1, -1, 2, -2]);
    }

    #[test]
    fn reads_past_the_end_fail() {
        let mut r = BitReader::new(&[0u8; 2]);
        assert!(r.ue().is_err());
        let mut r = BitReader::new(&[0xff]);
        assert!(r.bits(9).is_err());
        assert!(BitReader::new(&[]).skip(1).is_err());
        assert!(BitReader::new(&[0xff; 8]).bits(33).is_err());
    }

    #[test]
    fn unescape_drops_emulation_prevention() {
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3], 100), vec![0, 0, 1, 0, 0]);
        assert_eq!(unescape(&[1, 2, 3, 4], 2), vec![1, 2]);
    }
}
