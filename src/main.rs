//! The `trousseau` command.

/// mimalloc: buffers allocated on one thread and freed on another (parsed records handed to
/// the database worker, request bodies) cost glibc's allocator lock contention.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    no_transparent_huge_pages();
    trousseau::cli::main()
}

/// Transparent huge pages off for this process. Where the kernel's setting is "always", the
/// allocator's 2 MiB-aligned regions come back as huge pages: an idle server held 55-59 MB
/// instead of 43 MB, and logins were no faster with them (measured side by side).
#[cfg(target_os = "linux")]
fn no_transparent_huge_pages() {
    // SAFETY: prctl(PR_SET_THP_DISABLE) takes integers only and changes nothing but this
    // process's paging policy; a kernel without it returns an error, which changes nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn no_transparent_huge_pages() {}
