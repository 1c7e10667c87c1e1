//! A loaded module: its instances, its manifest, and the call that decides.

use std::sync::Mutex;

use sha2::Digest;
use wardgate_policy::raw::RawDecision;
use wardgate_policy::request::Prepared;
use wardgate_policy::{Engine as PolicyEngine, EngineFault, Manifest};
use wasmtime::component::{Component, Linker};
use wasmtime::{ResourceLimiter, Store, Trap};

use crate::bindings::{Policy, PolicyPre};
use crate::{convert, Host, LoadError, Strategy};

/// What a store carries: its limits, and whether the module ran into them. Modules import
/// nothing.
pub struct State {
    max_memory: usize,
    memory_exceeded: bool,
}

impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_exceeded = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes exceeded",
                self.max_memory
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        4
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        2
    }
}

struct Slot {
    store: Store<State>,
    instance: Policy,
}

/// A module ready to decide.
pub struct LoadedModule {
    engine: wasmtime::Engine,
    pre: PolicyPre<State>,
    manifest: Manifest,
    /// `sha256:` of the component's bytes.
    pub module_hash: String,
    strategy: Strategy,
    max_memory: usize,
    deadline_ticks: u64,
    slots: Mutex<Vec<Slot>>,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("module_hash", &self.module_hash)
            .finish_non_exhaustive()
    }
}

fn fault(e: &wasmtime::Error, state: &State) -> EngineFault {
    if state.memory_exceeded {
        return EngineFault(format!(
            "the policy module exceeded its memory limit of {} bytes",
            state.max_memory
        ));
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => EngineFault("the policy module ran past its deadline".into()),
        Some(trap) => EngineFault(format!("the policy module trapped: {trap}")),
        None => EngineFault(format!("the policy module failed: {e:#}")),
    }
}

impl LoadedModule {
    pub(crate) fn new(host: &Host, bytes: &[u8]) -> Result<LoadedModule, LoadError> {
        let max = host.config.max_module_bytes;
        if bytes.len() > max {
            return Err(LoadError::TooLarge {
                size: bytes.len(),
                max,
            });
        }
        let component = Component::new(&host.engine, bytes)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let imports: Vec<String> = component
            .component_type()
            .imports(&host.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        if !imports.is_empty() {
            return Err(LoadError::Imports(imports));
        }
        let linker: Linker<State> = Linker::new(&host.engine);
        let pre = linker
            .instantiate_pre(&component)
            .and_then(PolicyPre::new)
            .map_err(|e| LoadError::World(format!("{e:#}")))?;
        let digest = sha2::Sha256::digest(bytes);
        let mut module = LoadedModule {
            engine: host.engine.clone(),
            pre,
            manifest: Manifest::default(),
            module_hash: format!("sha256:{}", hex::encode(digest)),
            strategy: host.config.strategy,
            max_memory: host.config.max_memory_bytes,
            deadline_ticks: host.deadline_ticks(),
            slots: Mutex::new(Vec::new()),
        };
        let mut slot = module.slot().map_err(|e| LoadError::Manifest(e.0))?;
        slot.store.set_epoch_deadline(module.deadline_ticks);
        let raw = slot
            .instance
            .wardgate_policy_authorizer()
            .call_manifest(&mut slot.store)
            .map_err(|e| LoadError::Manifest(fault(&e, slot.store.data()).0))?;
        module.manifest = convert::manifest(raw)?.validate()?;
        if module.strategy == Strategy::Reuse {
            module.put_back(slot);
        }
        Ok(module)
    }

    fn slot(&self) -> Result<Slot, EngineFault> {
        let mut store = Store::new(
            &self.engine,
            State {
                max_memory: self.max_memory,
                memory_exceeded: false,
            },
        );
        store.limiter(|s| s);
        store.epoch_deadline_trap();
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| EngineFault(format!("cannot instantiate the policy module: {e:#}")))?;
        Ok(Slot { store, instance })
    }

    fn take(&self) -> Result<Slot, EngineFault> {
        if self.strategy == Strategy::Reuse {
            if let Some(slot) = self.slots.lock().ok().and_then(|mut s| s.pop()) {
                return Ok(slot);
            }
        }
        self.slot()
    }

    fn put_back(&self, slot: Slot) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.push(slot);
        }
    }

    /// The strategy this module's instances follow.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }
}

impl PolicyEngine for LoadedModule {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Decides in the sandbox. A trap, a timeout or a malformed answer is a fault (the request
    /// is denied) and the instance is thrown away.
    fn decide_raw(&self, p: &Prepared) -> Result<RawDecision, EngineFault> {
        let request = convert::request(p);
        let mut slot = self.take()?;
        slot.store.set_epoch_deadline(self.deadline_ticks);
        let answer = slot
            .instance
            .wardgate_policy_authorizer()
            .call_authorize(&mut slot.store, &request)
            .map_err(|e| fault(&e, slot.store.data()))?;
        let raw = convert::decision(answer, &self.manifest)?;
        if self.strategy == Strategy::Reuse {
            self.put_back(slot);
        }
        Ok(raw)
    }
}
