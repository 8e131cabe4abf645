//! The worker-side API: load data, pick a backend, train in slices, export.

use burn::tensor::Device;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::js_err;
use crate::backend::{cpu_device, webgpu_device, BackendKind};
use std::borrow::Cow;

use super::js_reader::JsReader;
use crate::data::cifar::{load_cifar_streams, ChannelStats, Cifar100Labels, CifarSet};
use crate::data::{Dataset, Normalisation};
use crate::model::MlpConfig;
use crate::train::{TrainConfig, Trainer};

#[wasm_bindgen]
pub struct Lab {
    cpu: Device,
    /// Set once WebGPU initialised (the device itself is cached in `backend`).
    webgpu: Option<Device>,
    backend: BackendKind,
    train: Option<Dataset>,
    test: Option<Dataset>,
    /// CIFAR stays as bytes (154 MB for CIFAR-10's training set, 4x that as f32); each run
    /// converts the subset its config asks for (`subsets`). Set instead of `train` / `test`.
    cifar: Option<(CifarSet, ChannelStats)>,
    dataset_name: String,
    trainer: Option<Trainer>,
    /// Weights imported by the user, used by the next `start` instead of a fresh initialisation.
    imported: Option<(crate::model::ModelConfig, crate::model::net::NetParams)>,
    /// The same network for presets that analyse one (kept until another file is imported).
    start_weights: Option<crate::experiments::StartWeights>,
}

#[derive(serde::Serialize)]
struct DataInfo {
    name: String,
    train: usize,
    test: usize,
    dim: usize,
    classes: usize,
    /// What was left aside while reading (unknown archive members), for the page to show.
    notes: Vec<String>,
    /// Per-channel normalisation of CIFAR (from its training set).
    #[serde(skip_serializing_if = "Option::is_none")]
    channel_stats: Option<ChannelStats>,
}

#[wasm_bindgen]
impl Lab {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Lab {
        Lab {
            cpu: cpu_device(),
            webgpu: None,
            backend: BackendKind::Cpu,
            train: None,
            test: None,
            cifar: None,
            dataset_name: String::new(),
            trainer: None,
            imported: None,
            start_weights: None,
        }
    }

    /// Panic inside the lab, as a bug would: the recovery test's way to crash the worker in the
    /// middle of a run (the worker calls it only when the page posts `test-crash`).
    #[wasm_bindgen(js_name = crashForTest)]
    pub fn crash_for_test(&self, when: String) {
        panic!("crash requested by a test ({when})");
    }

    /// The WebGPU adapter's `maxStorageBufferBindingSize` and `maxBufferSize` (bytes), so that a
    /// model with a larger buffer is refused before training (see `train::budget`).
    #[wasm_bindgen(js_name = setWebGpuLimits)]
    pub fn set_webgpu_limits(&self, max_storage_binding: f64, max_buffer: f64) {
        crate::train::budget::set_webgpu_limits(max_storage_binding as u64, max_buffer as u64);
    }

    /// cubecl's `tasks_max` (launches per command buffer) for this worker's WebGPU device: the
    /// benchmark's sweep sets it in a fresh worker, before the device exists.
    #[wasm_bindgen(js_name = setWebGpuTasksMax)]
    pub fn set_webgpu_tasks_max(&self, tasks: u32) -> Result<(), JsError> {
        crate::backend::set_webgpu_tasks_max(tasks as usize).map_err(js_err)
    }

    /// Select "webgpu" or "cpu". The page checks for a WebGPU adapter first and only asks for
    /// WebGPU when one exists; an initialisation failure here is reported, not hidden.
    #[wasm_bindgen(js_name = setBackend)]
    pub async fn set_backend(&mut self, kind: String) -> Result<String, JsError> {
        self.backend = match kind.as_str() {
            "webgpu" => {
                // Cached by `backend::webgpu_device`: only the first call initialises.
                self.webgpu = Some(webgpu_device().await.map_err(js_err)?);
                BackendKind::Webgpu
            }
            "cpu" => BackendKind::Cpu,
            other => return Err(JsError::new(&format!("unknown backend `{other}`"))),
        };
        Ok(self.backend.label().to_string())
    }

    /// Decode the four IDX files (raw or gzipped) of a data set; replaces any loaded set only
    /// when all four are good, so a bad file leaves the previous data usable. `file_names` (train
    /// images, train labels, test images, test labels) name the files in messages.
    #[wasm_bindgen(js_name = loadIdx)]
    pub fn load_idx(
        &mut self,
        name: String,
        file_names: Vec<String>,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<JsValue, JsError> {
        let role = |i: usize, fallback: &str| {
            file_names
                .get(i)
                .cloned()
                .unwrap_or_else(|| fallback.to_string())
        };
        let names = [
            role(0, "training images"),
            role(1, "training labels"),
            role(2, "test images"),
            role(3, "test labels"),
        ];
        let (train, test) = Dataset::splits_from_idx(
            [
                (&names[0], train_images),
                (&names[1], train_labels),
                (&names[2], test_images),
                (&names[3], test_labels),
            ],
            Normalisation::Unit,
        )
        .map_err(js_err)?;
        let info = DataInfo {
            name: name.clone(),
            train: train.len(),
            test: test.len(),
            dim: train.dim,
            classes: train.classes,
            notes: Vec::new(),
            channel_stats: None,
        };
        self.train = Some(train);
        self.test = Some(test);
        self.cifar = None;
        self.dataset_name = name;
        serde_wasm_bindgen::to_value(&info).map_err(js_err)
    }

    /// Decode CIFAR-10 or CIFAR-100 from `files` (Uint8Arrays named by `file_names`: the
    /// .tar.gz, the .tar or the .bin files); replaces the loaded data only when they are good,
    /// so a bad archive leaves the previous data usable. CIFAR-100 uses its fine labels.
    #[wasm_bindgen(js_name = loadCifar)]
    pub fn load_cifar(
        &mut self,
        file_names: Vec<String>,
        files: js_sys::Array,
    ) -> Result<JsValue, JsError> {
        if file_names.len() != files.length() as usize {
            return Err(JsError::new("loadCifar: one name per file is needed"));
        }
        // Read from the JS buffers in chunks: no copy of a whole archive in wasm memory.
        let streams: Vec<(String, Box<dyn std::io::Read>)> = file_names
            .into_iter()
            .zip(files.iter())
            .map(|(name, f)| {
                f.dyn_into::<js_sys::Uint8Array>()
                    .map(|a| (name, Box::new(JsReader::new(a)) as Box<dyn std::io::Read>))
            })
            .collect::<Result<_, _>>()
            .map_err(|_| JsError::new("loadCifar: every file must be a Uint8Array"))?;
        let set = load_cifar_streams(streams, None, Cifar100Labels::Fine).map_err(js_err)?;
        let stats = set.train.channel_stats();
        let name = set.kind.id();
        let info = DataInfo {
            name: name.into(),
            train: set.train.len(),
            test: set.test.len(),
            dim: set.train.image_len(),
            classes: set.train.classes,
            notes: set.notes.clone(),
            channel_stats: Some(stats.clone()),
        };
        self.train = None;
        self.test = None;
        self.cifar = Some((set, stats));
        self.dataset_name = name.into();
        serde_wasm_bindgen::to_value(&info).map_err(js_err)
    }
}

impl Lab {
    /// The data of a run that reads the first `train_n` / `test_n` examples (all when None):
    /// the loaded IDX sets as they are, or CIFAR's bytes converted for just that many images.
    fn subsets(
        &self,
        train_n: Option<usize>,
        test_n: Option<usize>,
    ) -> Result<(Cow<'_, Dataset>, Cow<'_, Dataset>), JsError> {
        if let Some((set, stats)) = &self.cifar {
            // More than the set holds: convert all, and let the run refuse the size by name.
            let n = |len: usize, want: Option<usize>| want.unwrap_or(len).clamp(1, len);
            let train = set
                .train
                .to_dataset(n(set.train.len(), train_n), Some(stats));
            let test = set.test.to_dataset(n(set.test.len(), test_n), Some(stats));
            return Ok((
                Cow::Owned(train.map_err(js_err)?),
                Cow::Owned(test.map_err(js_err)?),
            ));
        }
        match (&self.train, &self.test) {
            (Some(a), Some(b)) => Ok((Cow::Borrowed(a), Cow::Borrowed(b))),
            _ => Err(JsError::new("no data loaded")),
        }
    }
}

#[wasm_bindgen]
impl Lab {
    /// Build a trainer from a `TrainConfig` object (an MLP's `model` or a named network's
    /// `arch`) and evaluate the initial model.
    pub async fn start(&mut self, config: JsValue) -> Result<JsValue, JsError> {
        self.trainer = None;
        let config: TrainConfig = serde_wasm_bindgen::from_value(config).map_err(js_err)?;
        let start = match &self.imported {
            None => None,
            // A state_dict stores no drop rate: a named network starts at the form's.
            Some((model, params)) if same_network(model, &config.model) => Some(params.clone()),
            Some((model, _)) => {
                return Err(JsError::new(&format!(
                    "imported weights are for {}, the form asks for {}",
                    model.label(),
                    config.model.label()
                )))
            }
        };
        let device = self.current_device()?;
        let backend = self.backend.label();
        let trainer = {
            let (train, test) = self.subsets(Some(config.train_size), Some(config.test_size))?;
            let name = &self.dataset_name;
            match start {
                Some(p) => {
                    // In the form's network: a state_dict stores no drop rate.
                    let spec = config.spec(train.dim, train.classes).map_err(js_err)?;
                    let p = p.with_spec(&spec).map_err(js_err)?;
                    Trainer::with_params(config, p, &train, &test, device, backend, name).await
                }
                None => Trainer::new(config, &train, &test, device, backend, name).await,
            }
            .map_err(js_err)?
        };
        // The imported weights are used up by the run that started from them.
        self.imported = None;
        let progress = trainer.progress(f32::NAN);
        self.trainer = Some(trainer);
        serde_wasm_bindgen::to_value(&progress).map_err(js_err)
    }

    /// Run up to `steps` training steps; returns progress.
    pub async fn run(&mut self, steps: usize) -> Result<JsValue, JsError> {
        let trainer = self
            .trainer
            .as_mut()
            .ok_or_else(|| JsError::new("no training run started"))?;
        let progress = trainer.run(steps).await.map_err(js_err)?;
        serde_wasm_bindgen::to_value(&progress).map_err(js_err)
    }

    fn history(&self) -> Result<&crate::train::History, JsError> {
        Ok(self
            .trainer
            .as_ref()
            .ok_or_else(|| JsError::new("no training run"))?
            .history())
    }

    #[wasm_bindgen(js_name = historyJson)]
    pub fn history_json(&self) -> Result<String, JsError> {
        Ok(self.history()?.to_json())
    }

    #[wasm_bindgen(js_name = historyCsv)]
    pub fn history_csv(&self) -> Result<String, JsError> {
        Ok(self.history()?.to_csv())
    }

    /// The current weights as a safetensors file.
    #[wasm_bindgen(js_name = exportWeights)]
    pub async fn export_weights(&self) -> Result<Vec<u8>, JsError> {
        let trainer = self
            .trainer
            .as_ref()
            .ok_or_else(|| JsError::new("no trained model to export"))?;
        let params = trainer.params().await.map_err(js_err)?;
        crate::io::weights::export(&trainer.config().model, &params).map_err(js_err)
    }

    /// Read a safetensors file (the lab's own, a plain PyTorch state_dict of Linear layers with
    /// `activation` between them, or of one of the lab's named architectures); its weights start
    /// the next training run of that network, and presets run with `useWeights` analyse it.
    /// `name`: the file's name, for result files. Returns `{ config, label, source }` (config:
    /// the MLP's, null for a named architecture).
    #[wasm_bindgen(js_name = importWeights)]
    pub fn import_weights(
        &mut self,
        bytes: &[u8],
        activation: String,
        name: Option<String>,
    ) -> Result<JsValue, JsError> {
        let activation: crate::model::Activation =
            serde_json::from_value(serde_json::Value::String(activation)).map_err(js_err)?;
        let imported = crate::io::weights::import(bytes, activation).map_err(js_err)?;
        #[derive(serde::Serialize)]
        struct Imported<'a> {
            /// The MLP's config for the Train form (null for a named architecture).
            config: Option<&'a MlpConfig>,
            /// "784-50-50-10 relu", "lenet5 (width 0.5)".
            label: String,
            source: crate::io::weights::Source,
        }
        let value = serde_wasm_bindgen::to_value(&Imported {
            config: imported.model.mlp(),
            label: imported.model.label(),
            source: imported.source,
        })
        .map_err(js_err)?;
        self.start_weights = Some(crate::experiments::StartWeights {
            model: imported.model.clone(),
            params: imported.params.clone(),
            origin: name.unwrap_or_else(|| "an imported file".into()),
        });
        self.imported = Some((imported.model, imported.params));
        Ok(value)
    }
}

/// The imported network is the configured one, up to a named architecture's drop rate.
fn same_network(
    imported: &crate::model::ModelConfig,
    configured: &crate::model::ModelConfig,
) -> bool {
    let mut m = imported.clone();
    if let (Some(a), Some(b)) = (m.arch_mut(), configured.arch()) {
        a.drop_rate = b.drop_rate;
    }
    &m == configured
}

impl Lab {
    fn current_device(&self) -> Result<Device, JsError> {
        match self.backend {
            BackendKind::Webgpu => self
                .webgpu
                .clone()
                .ok_or_else(|| JsError::new("WebGPU not initialised")),
            BackendKind::Cpu => Ok(self.cpu.clone()),
        }
    }
}

#[wasm_bindgen]
impl Lab {
    /// Training throughput on the current backend (see `web::bench`).
    #[wasm_bindgen(js_name = benchTraining)]
    pub async fn bench_training(
        &self,
        widths: Vec<usize>,
        batch: usize,
        steps: usize,
    ) -> Result<JsValue, JsError> {
        let r = super::bench::training(
            self.current_device()?,
            self.backend.label(),
            widths,
            batch,
            steps,
        )
        .await?;
        serde_wasm_bindgen::to_value(&r).map_err(js_err)
    }

    /// Top-k Hessian eigenvalues (Lanczos) and the dense 2500-weight block Hessian of
    /// 784-50-50-10 on `rows` inputs, on the current backend (see `perf::hessian`).
    #[wasm_bindgen(js_name = benchHessian)]
    pub async fn bench_hessian(&self, rows: usize, top_k: usize) -> Result<JsValue, JsError> {
        let r = crate::perf::hessian(self.current_device()?, rows, top_k, super::bench::now_ms)
            .await
            .map_err(js_err)?;
        serde_wasm_bindgen::to_value(&r).map_err(js_err)
    }

    /// Conv-net training throughput on the current backend: entry `i` of `perf::CONV_BENCH` at
    /// full width (see `perf::conv_training`).
    #[wasm_bindgen(js_name = benchConvTraining)]
    pub async fn bench_conv_training(
        &self,
        i: usize,
        batch: usize,
        steps: usize,
    ) -> Result<JsValue, JsError> {
        let (arch, input) = *crate::perf::CONV_BENCH
            .get(i)
            .ok_or_else(|| JsError::new("no such conv benchmark"))?;
        let r = crate::perf::conv_training(
            self.current_device()?,
            arch,
            1.0,
            input,
            batch,
            steps,
            super::bench::now_ms,
        )
        .await
        .map_err(js_err)?;
        serde_wasm_bindgen::to_value(&r).map_err(js_err)
    }

    /// Conv layers one by one on the current backend, burn's convolution beside the lab's and
    /// the lab's parts (see `perf_conv::conv_layers`).
    #[wasm_bindgen(js_name = benchConvLayers)]
    pub async fn bench_conv_layers(&self, batch: usize, reps: usize) -> Result<JsValue, JsError> {
        let r = crate::perf_conv::conv_layers(
            self.current_device()?,
            batch,
            reps,
            super::bench::now_ms,
        )
        .await
        .map_err(js_err)?;
        serde_wasm_bindgen::to_value(&r).map_err(js_err)
    }

    /// Plain matmul GFLOP/s on the current backend.
    #[wasm_bindgen(js_name = benchMatmul)]
    pub async fn bench_matmul(&self, n: usize, reps: usize) -> Result<JsValue, JsError> {
        let r = super::bench::matmul(self.current_device()?, n, reps).await?;
        serde_wasm_bindgen::to_value(&r).map_err(js_err)
    }
}

/// Progress to a JS callback `(stage, done, total) => Promise<boolean>`; false cancels.
struct JsReporter(js_sys::Function);

impl crate::experiments::Reporter for JsReporter {
    async fn report(&mut self, stage: &str, done: usize, total: usize) -> bool {
        let called = self.0.call3(
            &JsValue::NULL,
            &JsValue::from_str(stage),
            &JsValue::from(done as u32),
            &JsValue::from(total as u32),
        );
        match called {
            Ok(v) => match v.dyn_into::<js_sys::Promise>() {
                Ok(p) => wasm_bindgen_futures::JsFuture::from(p)
                    .await
                    .map(|b| b.as_bool() != Some(false))
                    .unwrap_or(false),
                Err(v) => v.as_bool() != Some(false),
            },
            Err(_) => false,
        }
    }
}

#[wasm_bindgen]
impl Lab {
    /// Run preset `id` (see `presetCatalogue`) from a config (JSON, from `presetConfig`) on the
    /// loaded data with the current backend; `report(stage, done, total)` shows progress and may
    /// cancel. `use_weights`: analyse the imported network instead of training (presets whose
    /// catalogue entry has `weights`). Returns the versioned result file as JSON (charts and
    /// exports take it as is).
    #[wasm_bindgen(js_name = runPreset)]
    pub async fn run_preset(
        &self,
        id: String,
        config_json: String,
        report: js_sys::Function,
        use_weights: Option<bool>,
    ) -> Result<String, JsError> {
        use crate::experiments::preset::{run_to_file, ResultFile};
        use crate::experiments::{registry, Inputs, Preset, Visitor};
        use std::future::Future;
        use std::pin::Pin;

        let config: serde_json::Value = serde_json::from_str(&config_json).map_err(js_err)?;
        // Presets name their subset sizes train_size / test_size (those without read all).
        let size = |key: &str| config.get(key).and_then(|v| v.as_u64()).map(|v| v as usize);
        let (train, test) = self.subsets(size("train_size"), size("test_size"))?;
        let inputs = Inputs {
            train: &train,
            test: &test,
            dataset: &self.dataset_name,
            device: self.current_device()?,
            backend: self.backend.label(),
            weights: match use_weights {
                Some(true) => Some(self.start_weights.as_ref().ok_or_else(|| {
                    JsError::new("no weights imported: import a .safetensors file first")
                })?),
                _ => None,
            },
        };
        type Job<'a> = Pin<Box<dyn Future<Output = crate::LabResult<ResultFile>> + 'a>>;
        struct Start<'a> {
            config: &'a serde_json::Value,
            inputs: &'a Inputs<'a>,
            reporter: &'a mut JsReporter,
        }
        impl<'a> Visitor for Start<'a> {
            type Out = Job<'a>;
            fn visit<P: Preset>(self) -> Job<'a> {
                Box::pin(run_to_file::<P>(self.config, self.inputs, self.reporter))
            }
        }
        let mut reporter = JsReporter(report);
        let job = registry::visit(
            &id,
            Start {
                config: &config,
                inputs: &inputs,
                reporter: &mut reporter,
            },
        )
        .map_err(js_err)?;
        Ok(job.await.map_err(js_err)?.to_json())
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}
