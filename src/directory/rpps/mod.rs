//! The national index of health professionals from the RPPS public extraction (rpps.md):
//! streaming parser, import with snapshot semantics, search.

pub mod header;
pub mod import;
pub mod line;
pub mod scan;
pub mod search;
pub mod source;

pub use header::{HeaderError, Layout};
pub use import::{ImportError, ImportOptions, ImportReport, Progress, import_file};
pub use line::{Activity, Fields, LineError, pack, search_name, unpack};
pub use scan::{Event, Key, Professional, ScanError, Totals, read_header, scan, scan_body};
pub use search::{Found, search};
