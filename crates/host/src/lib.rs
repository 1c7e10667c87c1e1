//! Runs policy components in wasmtime: loads and validates them against the world, calls them
//! under an epoch deadline and memory limits, and swaps them atomically.
//!
//! Instance strategy (measured with `cargo bench -p wardgate-host`, see `benches/host.rs`): a
//! decision through a *reused* instance costs a fraction of a microsecond, while a *fresh*
//! instance per request from the pooling allocator costs several microseconds more. Modules are
//! pure functions of their input (the heap is reset after every call by `cabi_post_*`), so
//! reuse is safe; an instance is discarded after any trap, timeout or malformed result, and
//! every instance belongs to one module generation, so a swap never mixes modules. Reuse is
//! the default; [`Strategy::Fresh`] remains for measurement and for the cautious.

#[allow(
    missing_debug_implementations,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used
)]
mod bindings;
mod convert;
mod handle;
mod module;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use handle::{NoPrevious, PolicyHandle};
pub use module::LoadedModule;

/// How instances are used per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Keep instances of a module in a pool and reuse them.
    Reuse,
    /// Instantiate for every request (from the pooling allocator), drop afterwards.
    Fresh,
}

/// Limits on what a module may be and do.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Largest component accepted, in bytes.
    pub max_module_bytes: usize,
    /// Largest linear memory an instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// How long one call may run.
    pub deadline: Duration,
    pub strategy: Strategy,
    /// Instances the pooling allocator can hold at once, over all loaded modules.
    pub max_instances: u32,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            max_module_bytes: 16 << 20,
            max_memory_bytes: 64 << 20,
            deadline: Duration::from_millis(20),
            strategy: Strategy::Reuse,
            max_instances: 512,
        }
    }
}

/// Why a module was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the module is {size} bytes; the limit is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("not a valid component: {0}")]
    Invalid(String),
    #[error("the module imports {0:?}; policy modules must import nothing")]
    Imports(Vec<String>),
    #[error("the module does not implement the wardgate:policy world: {0}")]
    World(String),
    #[error("the module's manifest cannot be read: {0}")]
    Manifest(String),
    #[error("the module's manifest is inconsistent: {0}")]
    ManifestInvalid(#[from] wardgate_policy::manifest::ManifestError),
    #[error("the Wasm engine cannot start: {0}")]
    Engine(String),
}

/// The wasmtime engine with its epoch ticker.
#[derive(Debug)]
pub struct Host {
    engine: Engine,
    config: HostConfig,
    /// Milliseconds per epoch tick.
    tick: Duration,
    stop: Arc<AtomicBool>,
}

impl Host {
    pub fn new(config: HostConfig) -> Result<Host, LoadError> {
        let mut c = Config::new();
        c.wasm_component_model(true);
        c.epoch_interruption(true);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(config.max_instances);
        pool.total_core_instances(config.max_instances);
        pool.total_memories(config.max_instances);
        pool.total_tables(config.max_instances);
        pool.max_memory_size(config.max_memory_bytes);
        pool.linear_memory_keep_resident(1 << 20);
        pool.table_keep_resident(1 << 16);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&c).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let tick = Duration::from_millis(1);
        let stop = Arc::new(AtomicBool::new(false));
        let (ticker_engine, ticker_stop) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("wardgate-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        Ok(Host {
            engine,
            config,
            tick,
            stop,
        })
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Epoch ticks a call may run.
    fn deadline_ticks(&self) -> u64 {
        let ticks = self.config.deadline.as_micros() / self.tick.as_micros().max(1);
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    /// Loads a component: checks its size, that it imports nothing, that it implements the
    /// world, and that its manifest is consistent.
    pub fn load(&self, bytes: &[u8]) -> Result<LoadedModule, LoadError> {
        LoadedModule::new(self, bytes)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
