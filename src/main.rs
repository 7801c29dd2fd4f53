//! The `trousseau` command.

/// mimalloc: buffers allocated on one thread and freed on another (parsed records handed to
/// the database worker, request bodies) cost glibc's allocator lock contention.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    trousseau::cli::main()
}
