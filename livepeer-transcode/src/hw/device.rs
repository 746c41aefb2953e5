//! Hardware device contexts.
#![allow(unsafe_code)] // FFmpeg's hardware API has no safe wrapper in ffmpeg-next.

use std::fmt;
use std::ptr;

use ffmpeg_next::ffi;

use crate::error::{Result, backend};

/// A hardware video API FFmpeg can open a device for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HwApi {
    /// NVIDIA CUDA (NVDEC decoding).
    Cuda,
    /// VA-API (Intel, AMD on Linux).
    Vaapi,
    /// Intel Quick Sync Video.
    Qsv,
}

impl HwApi {
    pub(crate) fn device_type(self) -> ffi::AVHWDeviceType {
        match self {
            HwApi::Cuda => ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_CUDA,
            HwApi::Vaapi => ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_VAAPI,
            HwApi::Qsv => ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_QSV,
        }
    }

    /// The name of its decoding path, as capabilities report it.
    pub fn decoder_name(self) -> &'static str {
        match self {
            HwApi::Cuda => "nvdec",
            HwApi::Vaapi => "vaapi",
            HwApi::Qsv => "qsv",
        }
    }
}

impl fmt::Display for HwApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HwApi::Cuda => "CUDA",
            HwApi::Vaapi => "VAAPI",
            HwApi::Qsv => "QSV",
        })
    }
}

/// An open hardware device (a reference-counted `AVHWDeviceContext`).
pub struct HwDevice {
    api: HwApi,
    buf: *mut ffi::AVBufferRef,
}

// SAFETY: the device context is reference counted with atomic counts and FFmpeg documents
// device contexts as usable from several threads once created; we only take new
// references to it (`av_buffer_ref`) and release ours on drop.
unsafe impl Send for HwDevice {}
// SAFETY: as above; no method mutates the context through `&self`.
unsafe impl Sync for HwDevice {}

impl fmt::Debug for HwDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HwDevice").field("api", &self.api).finish()
    }
}

impl HwDevice {
    /// Opens the default device of `api`.
    pub fn open(api: HwApi) -> Result<Self> {
        let mut buf = ptr::null_mut();
        // SAFETY: `buf` is a valid out-pointer; a null device name and options ask for the
        // default device; on failure FFmpeg leaves `buf` null.
        let r = unsafe {
            ffi::av_hwdevice_ctx_create(
                &mut buf,
                api.device_type(),
                ptr::null(),
                ptr::null_mut(),
                0,
            )
        };
        if r < 0 || buf.is_null() {
            return Err(backend(ffmpeg_next::Error::from(r)));
        }
        Ok(HwDevice { api, buf })
    }

    /// The API it belongs to.
    pub fn api(&self) -> HwApi {
        self.api
    }

    /// A new reference for a codec context to own.
    pub(crate) fn new_ref(&self) -> *mut ffi::AVBufferRef {
        // SAFETY: `self.buf` is a live reference for as long as `self` exists.
        unsafe { ffi::av_buffer_ref(self.buf) }
    }
}

impl Drop for HwDevice {
    fn drop(&mut self) {
        // SAFETY: we own one reference, released exactly once here.
        unsafe { ffi::av_buffer_unref(&mut self.buf) };
    }
}
