#![no_main]
//! See ferrocache::fuzz_api::command_args for the input layout and the properties checked.

use ferrocache::fuzz_api;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: fuzz_api::alloc::LimitAlloc = fuzz_api::alloc::LimitAlloc;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = fuzz_api::command_args(data) {
        panic!("{broken}");
    }
});
