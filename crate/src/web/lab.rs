//! The worker-side API: load data, pick a backend, train in slices, export.

use burn::tensor::Device;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::js_err;
use crate::backend::{cpu_device, webgpu_device, BackendKind};
use crate::data::{Dataset, Normalisation};
use crate::io::safetensors;
use crate::model::{HostParams, MlpConfig};
use crate::train::{TrainConfig, Trainer};

#[wasm_bindgen]
pub struct Lab {
    cpu: Device,
    /// Set once WebGPU initialised (the device itself is cached in `backend`).
    webgpu: Option<Device>,
    backend: BackendKind,
    train: Option<Dataset>,
    test: Option<Dataset>,
    dataset_name: String,
    trainer: Option<Trainer>,
    /// Weights imported by the user, used by the next `start` instead of a fresh initialisation.
    imported: Option<(MlpConfig, HostParams)>,
}

#[derive(serde::Serialize)]
struct DataInfo {
    name: String,
    train: usize,
    test: usize,
    dim: usize,
    classes: usize,
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
            dataset_name: String::new(),
            trainer: None,
            imported: None,
        }
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

    /// Decode the four IDX files (raw or gzipped) of a data set; replaces any loaded set.
    #[wasm_bindgen(js_name = loadIdx)]
    pub fn load_idx(
        &mut self,
        name: String,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<JsValue, JsError> {
        let train = Dataset::from_idx(
            "training images",
            train_images,
            "training labels",
            train_labels,
            Normalisation::Unit,
        )
        .map_err(js_err)?;
        let test = Dataset::from_idx(
            "test images",
            test_images,
            "test labels",
            test_labels,
            Normalisation::Unit,
        )
        .map_err(js_err)?;
        if train.dim != test.dim {
            return Err(JsError::new(&format!(
                "training images have {} pixels, test images {}",
                train.dim, test.dim
            )));
        }
        let info = DataInfo {
            name: name.clone(),
            train: train.len(),
            test: test.len(),
            dim: train.dim,
            classes: train.classes,
        };
        self.train = Some(train);
        self.test = Some(test);
        self.dataset_name = name;
        serde_wasm_bindgen::to_value(&info).map_err(js_err)
    }

    /// Build a trainer from a `TrainConfig` object and evaluate the initial model.
    pub async fn start(&mut self, config: JsValue) -> Result<JsValue, JsError> {
        self.trainer = None;
        let config: TrainConfig = serde_wasm_bindgen::from_value(config).map_err(js_err)?;
        let (train, test) = match (&self.train, &self.test) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(JsError::new("no data loaded")),
        };
        let device = self.current_device()?;
        let backend = self.backend.label();
        let trainer = match self.imported.take() {
            Some((model, params)) => {
                if model != config.model {
                    let msg = format!(
                        "imported weights are for {:?}, the form asks for {:?}",
                        model.widths, config.model.widths
                    );
                    self.imported = Some((model, params));
                    return Err(JsError::new(&msg));
                }
                Trainer::with_params(
                    config,
                    params,
                    train,
                    test,
                    device,
                    backend,
                    &self.dataset_name,
                )
                .await
            }
            None => Trainer::new(config, train, test, device, backend, &self.dataset_name).await,
        }
        .map_err(js_err)?;
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

    #[wasm_bindgen(js_name = historyJson)]
    pub fn history_json(&self) -> Result<String, JsError> {
        Ok(self
            .trainer
            .as_ref()
            .ok_or_else(|| JsError::new("no training run"))?
            .history()
            .to_json())
    }

    #[wasm_bindgen(js_name = historyCsv)]
    pub fn history_csv(&self) -> Result<String, JsError> {
        Ok(self
            .trainer
            .as_ref()
            .ok_or_else(|| JsError::new("no training run"))?
            .history()
            .to_csv())
    }

    /// The current weights as a safetensors file.
    #[wasm_bindgen(js_name = exportWeights)]
    pub async fn export_weights(&self) -> Result<Vec<u8>, JsError> {
        let trainer = self
            .trainer
            .as_ref()
            .ok_or_else(|| JsError::new("no trained model to export"))?;
        let params = trainer.model().to_host().await.map_err(js_err)?;
        safetensors::export(&trainer.config().model, &params).map_err(js_err)
    }

    /// Read a safetensors file; its weights start the next run. Returns the model config.
    #[wasm_bindgen(js_name = importWeights)]
    pub fn import_weights(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        let (config, params) = safetensors::import(bytes).map_err(js_err)?;
        let value = serde_wasm_bindgen::to_value(&config).map_err(js_err)?;
        self.imported = Some((config, params));
        Ok(value)
    }
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
        let r = crate::perf::hessian(self.current_device()?, rows, top_k, js_sys::Date::now)
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
    /// Run a paper-figure preset (see `presetDefaults` for the names) on the loaded data with the current backend;
    /// `report(stage, done, total)` shows progress and may cancel. Returns the result as JSON
    /// (the chart and the exports take it as is).
    #[wasm_bindgen(js_name = runPreset)]
    pub async fn run_preset(
        &self,
        name: String,
        config: JsValue,
        report: js_sys::Function,
    ) -> Result<String, JsError> {
        use crate::experiments::{
            fig1a_landscape as f1, fig2_variance_flatness as f2, fig4_variance_hessian as f4,
            fig6_alignment as f6, p001_fig3_cosine as cos, p002_complexity_table as table,
            p002_fig2_volume as vol, p002_fig3_volume_rate as rate, p002_fig4_noise as noise,
            p003_explicit_implicit as split, p004_table1_modes as modes,
        };
        let (train, test) = match (&self.train, &self.test) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(JsError::new("no data loaded")),
        };
        let (device, backend, mut r) = (
            self.current_device()?,
            self.backend.label(),
            JsReporter(report),
        );
        fn cfg<T: serde::de::DeserializeOwned>(v: JsValue) -> Result<T, JsError> {
            serde_wasm_bindgen::from_value(v).map_err(js_err)
        }
        fn json<T: serde::Serialize>(v: crate::LabResult<T>) -> Result<String, JsError> {
            serde_json::to_string(&v.map_err(js_err)?).map_err(js_err)
        }
        match name.as_str() {
            "fig1a" => json(f1::run(&cfg(config)?, train, test, device, backend, &mut r).await),
            "fig2" => json(f2::run(&cfg(config)?, train, device, backend, &mut r).await),
            "fig4" => json(f4::run(&cfg(config)?, train, device, backend, &mut r).await),
            "fig6" => json(f6::run(&cfg(config)?, train, device, backend, &mut r).await),
            "cosine" => json(cos::run(&cfg(config)?, train, device, backend, &mut r).await),
            "volume" => json(vol::run(&cfg(config)?, train, test, device, backend, &mut r).await),
            "volumerate" => {
                json(rate::run(&cfg(config)?, train, test, device, backend, &mut r).await)
            }
            "complexity" => {
                json(table::run(&cfg(config)?, train, test, device, backend, &mut r).await)
            }
            "modes" => {
                let name = &self.dataset_name;
                json(modes::run(&cfg(config)?, train, test, name, device, backend, &mut r).await)
            }
            "split" => {
                let name = &self.dataset_name;
                json(split::run(&cfg(config)?, train, test, name, device, backend, &mut r).await)
            }
            "noise" => {
                let name = &self.dataset_name;
                json(noise::run(&cfg(config)?, train, test, name, device, backend, &mut r).await)
            }
            other => Err(JsError::new(&format!("unknown preset `{other}`"))),
        }
    }

    /// A preset's demo-scale configuration, for the page's defaults (a plain JS object).
    #[wasm_bindgen(js_name = presetDefaults)]
    pub fn preset_defaults(name: String) -> Result<JsValue, JsError> {
        use crate::experiments::{
            fig1a_landscape::Fig1aConfig, fig2_variance_flatness::Fig2Config,
            fig4_variance_hessian::Fig4Config, fig6_alignment::Fig6Config,
            p001_fig3_cosine::CosineConfig, p002_complexity_table::ComplexityTableConfig,
            p002_fig2_volume::VolumeTrackConfig, p002_fig3_volume_rate::VolumeRateConfig,
            p002_fig4_noise::NoiseFig4Config, p003_explicit_implicit::SplitConfig,
            p004_table1_modes::ModesTableConfig,
        };
        use serde::Serialize;
        // Flattened configs serialise as maps: ask for plain objects, not JS Maps.
        let s = serde_wasm_bindgen::Serializer::json_compatible();
        match name.as_str() {
            "fig1a" => Fig1aConfig::demo().serialize(&s),
            "fig2" => Fig2Config::demo().serialize(&s),
            "fig4" => Fig4Config::demo().serialize(&s),
            "fig6" => Fig6Config::demo().serialize(&s),
            "cosine" => CosineConfig::demo().serialize(&s),
            "volume" => VolumeTrackConfig::demo().serialize(&s),
            "volumerate" => VolumeRateConfig::demo().serialize(&s),
            "complexity" => ComplexityTableConfig::demo().serialize(&s),
            "modes" => ModesTableConfig::demo().serialize(&s),
            "split" => SplitConfig::demo().serialize(&s),
            "noise" => NoiseFig4Config::demo().serialize(&s),
            other => return Err(JsError::new(&format!("unknown preset `{other}`"))),
        }
        .map_err(js_err)
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}
