//! mlamp-core on a Cortex-M4F (QEMU's `mps2-an386`), in f32 on the FPU and f64 in software:
//! ML-AMP on the two-layer sparse regression at n = 64 and ML-Mat-VAMP's d = 4 row
//! estimators and SVD-domain linear layer, on tables the host library generated (see
//! `build.rs`). No heap: the state lives in statics and on the stack.
//!
//! It prints over semihosting, one record a line:
//! - `R <f32|f64> <case> <index> <hex bits>…`: a result (see `cases.rs`), as bits only
//!   (formatting floats would add 22 KB of code; the host test decodes them);
//! - `S <f32|f64> <case> <bytes>`: the peak stack of one computation, by stack painting;
//! - `T <f32|f64> amp.step <index> <ticks>`: SysTick ticks of one ML-AMP iteration;
//! - `C <ticks> <instructions>`: the calibration of SysTick ticks against a loop of known
//!   instruction count (under QEMU's `-icount`, a tick is a fixed number of instructions);
//! - `DWT <0|1>`: whether the DWT cycle counter counts on this board;
//! - `E <f32|f64> <case> <error>`: a computation returned an error;
//! - `END`,
//!
//! then exits through semihosting, with status 0 if every computation returned `Ok`.

#![no_std]
#![no_main]

mod cases;

mod data {
    include!(concat!(env!("OUT_DIR"), "/data.rs"));
}

use core::fmt::Write;
use core::ptr::{addr_of, addr_of_mut};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hio::{self, HostStream};
use mlamp_core::Error;
use mlamp_core::mat::Estimator;
use panic_semihosting as _;

use cases::{Float, Sink, Tables};

/// The paint of unused stack.
const PAINT: u32 = 0x5EED_F00D;

/// A line of output, written with one semihosting call.
struct Line {
    buf: [u8; 4096],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        let end = self.len + b.len();
        if end > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(b);
        self.len = end;
        Ok(())
    }
}

struct Out {
    host: HostStream,
    line: Line,
}

impl Out {
    fn flush(&mut self) {
        let _ = self.line.write_str("\n");
        let _ = self.host.write_all(&self.line.buf[..self.line.len]);
        self.line.len = 0;
    }
}

macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out.line, $($arg)*);
        $out.flush();
    }};
}

/// Ticks elapsed between two readings of the (down-counting, 24-bit) SysTick.
fn ticks(start: u32, end: u32) -> u32 {
    start.wrapping_sub(end) & 0x00FF_FFFF
}

struct FwSink<'a> {
    out: &'a mut Out,
    ty: &'static str,
    started: u32,
    steps: usize,
}

impl<T: Float> Sink<T> for FwSink<'_> {
    fn emit(&mut self, case: &str, index: usize, values: &[T]) {
        let _ = write!(self.out.line, "R {} {} {}", self.ty, case, index);
        for v in values {
            let _ = write!(self.out.line, " {:x}", v.bits());
        }
        self.out.flush();
    }

    fn mark(&mut self, case: &str, start: bool) {
        let now = cortex_m::peripheral::SYST::get_current();
        if start {
            self.started = now;
        } else {
            self.steps += 1;
            let t = ticks(self.started, now);
            say!(self.out, "T {} {} {} {}", self.ty, case, self.steps, t);
        }
    }
}

unsafe extern "C" {
    static mut _stack_end: u32;
}

/// Paints the free stack below the current frame.
#[inline(never)]
fn paint() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = addr_of_mut!(_stack_end) as usize;
    while p + 4 <= sp - 64 {
        // SAFETY: between the end of the statics and below this frame, nothing is live.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// The lowest address whose paint was overwritten.
fn lowest_touched() -> usize {
    let mut p = addr_of!(_stack_end) as usize;
    // SAFETY: reads of the painted region.
    while unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    p
}

/// Runs `f` on freshly painted stack and prints its peak stack use.
fn measured<T: Float>(
    out: &mut Out,
    name: &str,
    f: impl FnOnce(&mut FwSink<'_>) -> Result<(), Error>,
) -> bool {
    paint();
    let base = cortex_m::register::msp::read() as usize;
    let mut sink = FwSink {
        out,
        ty: T::NAME,
        started: 0,
        steps: 0,
    };
    let r = run(&mut sink, f);
    let peak = base.saturating_sub(lowest_touched());
    match r {
        Ok(()) => {
            say!(out, "S {} {} {}", T::NAME, name, peak);
            true
        }
        Err(e) => {
            say!(out, "E {} {} {}", T::NAME, name, e);
            false
        }
    }
}

#[inline(never)]
fn run<'a, 'b>(
    sink: &'a mut FwSink<'b>,
    f: impl FnOnce(&mut FwSink<'b>) -> Result<(), Error>,
) -> Result<(), Error> {
    f(sink)
}

/// Every computation in one float; `amp_buf` and `scratch` are its statics.
fn all<T: Float>(out: &mut Out, t: &Tables<'_, T>, amp_buf: &mut [T], scratch: &mut [T]) -> bool {
    let mut ok = measured::<T>(out, "amp", |s| cases::amp(t, amp_buf, s));
    ok &= measured::<T>(out, "rowsparse", |s| cases::row_sparse(t, s));
    ok &= measured::<T>(out, "committee.map", |s| {
        cases::committee(t, Estimator::Map, s)
    });
    ok &= measured::<T>(out, "committee.mmse", |s| {
        cases::committee(t, Estimator::Mmse, s)
    });
    ok &= measured::<T>(out, "relu", |s| cases::relu(t, s));
    ok &= measured::<T>(out, "linear", |s| cases::linear(t, scratch, s));
    ok
}

const AMP_LEN: usize = cases::amp_state_len(data::AMP_SIZES);
const SCRATCH_LEN: usize = cases::linear_scratch_len(data::SVD_SHAPE);
static mut AMP_F64: [f64; AMP_LEN] = [0.0; AMP_LEN];
static mut AMP_F32: [f32; AMP_LEN] = [0.0; AMP_LEN];
static mut SCRATCH_F64: [f64; SCRATCH_LEN] = [0.0; SCRATCH_LEN];
static mut SCRATCH_F32: [f32; SCRATCH_LEN] = [0.0; SCRATCH_LEN];

/// A loop of `2 n + 2` instructions (`movs`, then `subs`/`bne` per turn, with the last `bne`
/// falling through, and the `nop` after).
#[inline(never)]
fn known_loop(n: u32) {
    // SAFETY: register-only arithmetic.
    unsafe {
        core::arch::asm!(
            "movs {0}, {1}",
            "2:",
            "subs {0}, {0}, #1",
            "bne 2b",
            "nop",
            out(reg) _,
            in(reg) n,
            options(nomem, nostack),
        );
    }
}

#[entry]
fn main() -> ! {
    let Ok(host) = hio::hstdout() else {
        exit(false)
    };
    let mut out = Out {
        host,
        line: Line {
            buf: [0; 4096],
            len: 0,
        },
    };
    let mut p = cortex_m::Peripherals::take().unwrap();
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(0x00FF_FFFF);
    p.SYST.clear_current();
    p.SYST.enable_counter();

    // Calibration: SysTick ticks of a loop of known instruction count.
    let n = 1_000_000;
    let t0 = cortex_m::peripheral::SYST::get_current();
    known_loop(n);
    let t1 = cortex_m::peripheral::SYST::get_current();
    say!(out, "C {} {}", ticks(t0, t1), 2 * n + 2);

    // The DWT cycle counter, where the board has one that counts.
    p.DCB.enable_trace();
    p.DWT.enable_cycle_counter();
    let c0 = cortex_m::peripheral::DWT::cycle_count();
    known_loop(1000);
    let c1 = cortex_m::peripheral::DWT::cycle_count();
    say!(out, "DWT {}", u32::from(c1 != c0));

    // SAFETY: the only references to these statics, taken once.
    let (a64, a32, s64, s32) = unsafe {
        (
            &mut *addr_of_mut!(AMP_F64),
            &mut *addr_of_mut!(AMP_F32),
            &mut *addr_of_mut!(SCRATCH_F64),
            &mut *addr_of_mut!(SCRATCH_F32),
        )
    };
    let mut ok = all(&mut out, &data::tables_f64(), a64, s64);
    ok &= all(&mut out, &data::tables_f32(), a32, s32);
    say!(out, "END");
    exit(ok)
}

/// Ends the run through semihosting: QEMU exits with status 0 if `ok`, else 1.
fn exit(ok: bool) -> ! {
    debug::exit(if ok { EXIT_SUCCESS } else { EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}
