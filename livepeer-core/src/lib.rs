//! Shared definitions and seam traits of livepeer-rs.
