//! Random parameters of one portrait: who, how posed, how lit.
use crate::synth::glasses::{Fit, Frame};
use crate::synth::math::{mix3, v3, M3, V3};
use crate::synth::raster::lin;
use crate::synth::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HairStyle {
    Bald,
    Buzz,
    Short,
    Medium,
    Long,
    Bangs,
}

/// An ellipsoid in head coordinates.
#[derive(Clone, Copy, Debug)]
pub struct Ellipsoid {
    pub c: V3,
    pub axes: V3,
}

#[derive(Clone, Debug)]
pub struct Scene {
    pub size: usize,
    /// Pixels per head unit, and the image position of the head origin.
    pub scale: f32,
    pub tx: f32,
    pub ty: f32,
    /// Head → camera rotation.
    pub rot: M3,
    pub skull: Ellipsoid,
    /// Narrowing of the head toward the chin (0 = ellipsoid).
    pub taper: f32,
    /// Half-height of the head below its centre (chin), above is `skull.axes.y`.
    pub chin: f32,
    pub ears: [Ellipsoid; 2],
    pub hair_shell: Ellipsoid,
    pub skin: V3,
    pub lip: V3,
    pub hair: V3,
    pub hair_style: HairStyle,
    /// Hairline height on the hair shell (front) and at the sides/back.
    pub hair_front: f32,
    pub hair_side: f32,
    pub beard: f32,
    pub eye_x: f32,
    pub eye_y: f32,
    pub eye_w: f32,
    pub eye_h: f32,
    pub iris: V3,
    pub gaze: (f32, f32),
    pub brow_y: f32,
    pub brow_thick: f32,
    pub nose_len: f32,
    pub nose_width: f32,
    pub mouth_y: f32,
    pub mouth_w: f32,
    pub lip_h: f32,
    pub smile: f32,
    /// Key light direction (camera space, toward the light), colours.
    pub light: V3,
    /// The key light direction in head coordinates (for self-shadowing).
    pub light_head: V3,
    pub key: V3,
    pub ambient: V3,
    /// Fill light from the other side (camera space direction, colour):
    /// a window or bounce card, weaker than the key.
    pub fill_dir: V3,
    pub fill: V3,
    /// Rim light grazing the silhouette from behind.
    pub rim: V3,
    /// How oily the skin looks (strength of the specular sheen).
    pub gloss: f32,
    pub shadow_blur: f32,
    pub clothes: V3,
    pub clothes2: V3,
    pub neckline: u8,
    pub glasses: Option<Frame>,
    pub noise_seed: u32,
}

/// A skin tone along the human range: light to dark, with a warm/olive axis.
fn skin_tone(rng: &mut Rng) -> V3 {
    let t = rng.f32();
    let light = lin(236, 200, 175);
    let mid = lin(190, 140, 105);
    let dark = lin(92, 58, 40);
    let base = if t < 0.5 {
        mix3(light, mid, t * 2.0)
    } else {
        mix3(mid, dark, (t - 0.5) * 2.0)
    };
    let warm = rng.range(-0.08, 0.08);
    v3(base.x * (1.0 + warm), base.y, base.z * (1.0 - warm * 1.5))
}

fn hair_color(rng: &mut Rng) -> V3 {
    *rng.pick(&[
        lin(20, 16, 14),
        lin(30, 22, 18),
        lin(55, 38, 26),
        lin(90, 62, 40),
        lin(140, 105, 65),
        lin(190, 160, 110),
        lin(120, 50, 25),
        lin(140, 140, 140),
        lin(200, 200, 195),
        lin(40, 30, 25),
    ])
}

impl Scene {
    pub fn sample(rng: &mut Rng, size: usize) -> Scene {
        let sz = size as f32;
        let a = rng.range(0.92, 1.06);
        let b = rng.range(1.18, 1.34);
        let c = rng.range(1.0, 1.12);
        let skull = Ellipsoid {
            c: v3(0.0, 0.0, 0.0),
            axes: v3(a, b, c),
        };
        let taper = rng.range(0.16, 0.32);
        let chin = rng.range(1.3, 1.42);
        let ear_y = rng.range(-0.08, 0.05);
        let ears = [-1.0f32, 1.0].map(|sx| Ellipsoid {
            c: v3(sx * a * 0.93, ear_y, -0.08),
            axes: v3(0.13, 0.27, 0.17),
        });
        let hair_style = [
            HairStyle::Bald,
            HairStyle::Buzz,
            HairStyle::Short,
            HairStyle::Medium,
            HairStyle::Long,
            HairStyle::Bangs,
        ][rng.weighted(&[0.05, 0.1, 0.3, 0.2, 0.22, 0.13])];
        let puff = match hair_style {
            HairStyle::Bald => 1.0,
            HairStyle::Buzz => 1.02,
            HairStyle::Short => rng.range(1.05, 1.12),
            _ => rng.range(1.08, 1.18),
        };
        let hair_shell = Ellipsoid {
            c: v3(0.0, 0.06 * puff, -0.04),
            axes: v3(a * (puff * 1.04), b * (puff * 0.5 + 0.5) + 0.02, c * puff),
        };
        let (hair_front, hair_side) = match hair_style {
            HairStyle::Bald => (2.0, 2.0),
            HairStyle::Buzz => (rng.range(0.45, 0.55), rng.range(0.0, 0.1)),
            HairStyle::Short => (rng.range(0.4, 0.55), rng.range(-0.05, 0.1)),
            HairStyle::Medium => (rng.range(0.38, 0.5), rng.range(-0.5, -0.25)),
            HairStyle::Long => (rng.range(0.38, 0.5), -1.1),
            HairStyle::Bangs => (rng.range(0.18, 0.26), rng.range(-0.9, -0.3)),
        };
        let yaw = rng.range(-0.6, 0.6);
        let pitch = rng.range(-0.3, 0.25);
        let roll = rng.range(-0.25, 0.25);
        let scale = sz * rng.range(0.23, 0.31);
        let tx = sz * (0.5 + rng.range(-0.07, 0.07));
        let ty = sz * (0.45 + rng.range(-0.05, 0.05));
        let skin = skin_tone(rng);
        let lip = v3(skin.x * 0.72, skin.y * 0.38, skin.z * 0.42);
        let hair = hair_color(rng);
        let eye_y = rng.range(0.0, 0.1);
        let eye_x = rng.range(0.36, 0.42) * a;
        // Light from the front half-space, mostly from above.
        let az = rng.range(-1.2, 1.2);
        let el = rng.range(-0.1, 1.0);
        let light = v3(
            libm::sinf(az) * libm::cosf(el),
            libm::sinf(el),
            libm::cosf(az) * libm::cosf(el),
        );
        let warmth = rng.range(-1.0, 1.0);
        // Harsh sun / studio key, or a softer overcast key with more sky.
        let overcast = rng.chance(0.3);
        let key_i = if overcast {
            rng.range(0.6, 1.0)
        } else {
            rng.range(0.8, 1.5)
        };
        let key = v3(1.0 + 0.12 * warmth, 1.0, 1.0 - 0.15 * warmth) * key_i;
        let amb_i = if overcast {
            rng.range(0.25, 0.4)
        } else {
            rng.range(0.1, 0.3)
        };
        let ambient = v3(1.0 - 0.08 * warmth, 1.0, 1.0 + 0.1 * warmth) * amb_i;
        // Fill from the opposite side, often a differently coloured source
        // (window daylight against warm room light).
        let faz = -az * rng.range(0.6, 1.2) + rng.range(-0.3, 0.3);
        let fel = rng.range(-0.2, 0.5);
        let fill_dir = v3(
            libm::sinf(faz) * libm::cosf(fel),
            libm::sinf(fel),
            libm::cosf(faz) * libm::cosf(fel),
        );
        let fill_tint = rng.range(-1.0, 1.0);
        let fill =
            v3(1.0 + 0.15 * fill_tint, 1.0, 1.0 - 0.18 * fill_tint) * (key_i * rng.range(0.0, 0.3));
        let rim = if rng.chance(0.35) {
            v3(1.0, 0.97, 0.92) * rng.range(0.2, 0.7)
        } else {
            v3(0.0, 0.0, 0.0)
        };
        let gloss = rng.range(0.3, 1.0);
        let clothes = *rng.pick(&[
            lin(30, 30, 35),
            lin(200, 200, 205),
            lin(40, 60, 110),
            lin(120, 30, 30),
            lin(60, 90, 60),
            lin(150, 130, 100),
            lin(90, 90, 95),
            lin(220, 180, 60),
            lin(70, 40, 90),
            lin(20, 80, 120),
        ]);
        let clothes2 = clothes * rng.range(0.5, 1.3);

        let eye_z = c
            * (1.0 - eye_x * eye_x / (a * a) - eye_y * eye_y / (b * b))
                .max(0.05)
                .sqrt();
        let side_x = a * (1.0 - (eye_y / b) * (eye_y / b) - 0.12).max(0.05).sqrt();
        let fit = Fit {
            eye_x,
            eye_y,
            eye_z,
            side_x,
            ear_z: -0.05,
        };
        let glasses = if rng.chance(0.8) {
            Some(Frame::sample(&mut rng.fork(), &fit))
        } else {
            None
        };
        let rot = M3::from_ypr(yaw, pitch, roll);
        Scene {
            light_head: rot.transpose().apply(light),
            size,
            scale,
            tx,
            ty,
            rot,
            skull,
            taper,
            chin,
            ears,
            hair_shell,
            skin,
            lip,
            hair,
            hair_style,
            hair_front,
            hair_side,
            beard: if rng.chance(0.12) {
                rng.range(0.2, 0.5)
            } else {
                0.0
            },
            eye_x,
            eye_y,
            eye_w: rng.range(0.16, 0.2),
            eye_h: rng.range(0.06, 0.085),
            iris: *rng.pick(&[
                lin(60, 35, 20),
                lin(35, 22, 15),
                lin(90, 120, 150),
                lin(90, 110, 70),
                lin(110, 80, 40),
            ]),
            gaze: (rng.range(-0.03, 0.03), rng.range(-0.015, 0.015)),
            brow_y: eye_y + rng.range(0.17, 0.23),
            brow_thick: rng.range(0.02, 0.04),
            nose_len: rng.range(0.48, 0.58),
            nose_width: rng.range(0.09, 0.13),
            mouth_y: rng.range(-0.88, -0.78),
            mouth_w: rng.range(0.22, 0.3),
            lip_h: rng.range(0.045, 0.07),
            smile: rng.range(-0.02, 0.05),
            light,
            key,
            ambient,
            fill_dir,
            fill,
            rim,
            gloss,
            shadow_blur: rng.range(0.5, 2.5),
            clothes,
            clothes2,
            neckline: rng.below(3) as u8,
            glasses,
            noise_seed: rng.next_u64() as u32,
        }
    }

    /// Head point → (image x, image y, camera depth; larger is nearer).
    pub fn project(&self, p: V3) -> (f32, f32, f32) {
        let c = self.rot.apply(p);
        (self.tx + self.scale * c.x, self.ty - self.scale * c.y, c.z)
    }
}
