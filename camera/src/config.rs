//! What the caller chooses at `init`: the frame size and how patiently to wait.

/// Output frame size. Both sizes are 4:3 and scaled by the OV2640's DSP from
/// the full 1600x1200 array, so the field of view is the same; the firmware
/// centre-crops a square and resizes it to the model input (see the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Resolution {
    /// 160x120 (QQVGA), 38 400 bytes of RGB565. Centre 120x120 crop → the
    /// segmenter's 96x96.
    Qqvga,
    /// 320x240 (QVGA), 153 600 bytes of RGB565. Centre 240x240 crop → the
    /// counter's 128x128.
    Qvga,
}

impl Resolution {
    /// Width in pixels.
    pub const fn width(self) -> u16 {
        match self {
            Resolution::Qqvga => 160,
            Resolution::Qvga => 320,
        }
    }

    /// Height in pixels.
    pub const fn height(self) -> u16 {
        match self {
            Resolution::Qqvga => 120,
            Resolution::Qvga => 240,
        }
    }

    /// Bytes of one RGB565 frame (two per pixel).
    pub const fn frame_bytes(self) -> u32 {
        self.width() as u32 * self.height() as u32 * 2
    }

    /// Code for the DSP scaler's pre-divider (CTRLI), applied to both axes
    /// before the zoom block scales to the exact output size. The values
    /// follow the pre-divider used with a full-array input for outputs of this
    /// class (3 for 176x144 and smaller, 2 up to 400x300).
    pub(crate) const fn pre_divider(self) -> u8 {
        match self {
            Resolution::Qqvga => 3,
            Resolution::Qvga => 2,
        }
    }
}

/// Driver configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Frame size the sensor is programmed for.
    pub resolution: Resolution,
    /// Wait between two reads of the capture-done flag, in microseconds.
    pub poll_interval_us: u32,
    /// Reads of the capture-done flag before `capture` gives up with
    /// `Error::Timeout`. With the defaults: 1 s, several frame times of the
    /// sensor's full-array readout.
    pub max_polls: u32,
    /// Extra bytes the FIFO may report beyond the frame and still be accepted
    /// (the frame is read from the start; the tail is ignored). ArduCAM's own
    /// RGB565 examples see 320x240 frames reported as 153 608 bytes, eight
    /// more than the pixels; set 0 to demand an exact length.
    pub fifo_slack: u32,
    /// Clock out and drop one byte after the burst-read command. Early
    /// ArduChip revisions put a dummy byte first; leave `false` unless the
    /// image comes out shifted by one byte (colours swapped, first pixel wrong).
    pub burst_dummy_byte: bool,
}

impl Config {
    /// Defaults for `resolution`: poll every 1 ms up to 1000 times, 8 bytes
    /// of FIFO slack, no dummy byte.
    pub const fn new(resolution: Resolution) -> Self {
        Config {
            resolution,
            poll_interval_us: 1_000,
            max_polls: 1_000,
            fifo_slack: 8,
            burst_dummy_byte: false,
        }
    }
}

impl Default for Config {
    /// 160x120 RGB565 with [`Config::new`]'s timing.
    fn default() -> Self {
        Config::new(Resolution::Qqvga)
    }
}
