//! Fuzzes the RPPS extraction parser: any bytes after a valid header (and as a header) must
//! give professionals and rejected lines, never a panic, and counts that add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trousseau::directory::rpps::header::HEADER_56;
use trousseau::directory::rpps::{Event, scan};

fuzz_target!(|data: &[u8]| {
    let mut file = Vec::with_capacity(HEADER_56.len() + 1 + data.len());
    file.extend_from_slice(HEADER_56.as_bytes());
    file.push(b'\n');
    file.extend_from_slice(data);
    for bytes in [&file[..], data] {
        let mut pros = 0u64;
        let mut rejected = 0u64;
        let mut activities = 0u64;
        let result = scan(bytes, |e| {
            match e {
                Event::Professional(p) => {
                    pros += 1;
                    activities += u64::from(p.activities);
                    assert_eq!(p.activities().len(), p.activities as usize);
                }
                Event::Rejected { .. } => rejected += 1,
                Event::Progress { .. } => {}
            }
            true
        });
        if let Ok(t) = result {
            assert_eq!((t.professionals, t.rejected, t.activities), (pros, rejected, activities));
            assert_eq!(t.lines, t.activities + t.rejected);
        }
    }
});
