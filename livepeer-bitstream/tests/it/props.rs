//! Property tests: arbitrary bytes never panic any parser, and what this crate writes or
//! converts reads back as it was.

use livepeer_bitstream::bits::BitReader;
use livepeer_bitstream::{fuzz_entry, h264, ivf, ts};
use proptest::prelude::*;

/// Writes `v` as `ue(v)`.
fn push_ue(bits: &mut Vec<bool>, v: u32) {
    let code = u64::from(v) + 1;
    let len = 64 - code.leading_zeros();
    bits.extend(std::iter::repeat_n(false, len as usize - 1));
    bits.extend((0..len).rev().map(|i| code >> i & 1 == 1));
}

fn pack(bits: &[bool]) -> Vec<u8> {
    bits.chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |b, (i, &x)| b | (u8::from(x) << (7 - i)))
        })
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz_entry::h264(&data);
        fuzz_entry::ts(&data);
        fuzz_entry::ivf(&data);
        fuzz_entry::mp4(&data);
    }

    #[test]
    fn ts_shaped_bytes_never_panic(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 187), 1..8),
    ) {
        let data: Vec<u8> = packets.iter().flat_map(|p| [&[ts::SYNC][..], p].concat()).collect();
        fuzz_entry::ts(&data);
    }

    #[test]
    fn exp_golomb_reads_back(values in proptest::collection::vec(0u32..u32::MAX, 1..32)) {
        let mut bits = Vec::new();
        for &v in &values {
            push_ue(&mut bits, v);
        }
        let data = pack(&bits);
        let mut r = BitReader::new(&data);
        for &v in &values {
            prop_assert_eq!(r.ue().unwrap(), v);
        }
    }

    #[test]
    fn nal_units_survive_avcc(units in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 1..64), 0..16,
    )) {
        let mut stream = Vec::new();
        for u in &units {
            stream.extend_from_slice(&[0, 0, 0, 1]);
            stream.extend_from_slice(u);
        }
        let avcc = h264::annexb_to_avcc(&stream, true);
        let mut back = Vec::new();
        h264::avcc_to_annexb(&avcc, 4, &mut back).unwrap();
        let kept = h264::nal_units(&stream).filter(|n| h264::nal_type(n) != h264::nal::AUD);
        prop_assert!(kept.eq(h264::nal_units(&back)));
    }

    #[test]
    fn ivf_reads_back_what_it_writes(
        size in (1u16.., 1u16..),
        time_base in (1u32.., 1u32..),
        frames in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..16),
    ) {
        let h = ivf::Header::new(ivf::AV1, size.0, size.1, time_base.0, time_base.1);
        let file = ivf::write(&h, frames.iter().map(|(p, d)| (*p, &d[..])));
        let f = ivf::parse(&file, ivf::AV1).unwrap();
        prop_assert_eq!(f.header, h);
        let back: Vec<(u64, Vec<u8>)> = f.frames.iter().map(|x| (x.pts, x.data.to_vec())).collect();
        prop_assert_eq!(back, frames);
    }

    #[test]
    fn timestamps_unwrap_to_the_nearest(base in -(1i64 << 40)..(1i64 << 40), step in -(1i64 << 31)..(1i64 << 31)) {
        let t = base + step;
        prop_assert_eq!(ts::unwrap_timestamp(t.rem_euclid(1 << 33) as u64, base), t);
    }
}
