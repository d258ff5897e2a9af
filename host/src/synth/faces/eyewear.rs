//! Drawing the 3D glasses frame, and the shadow it casts on the face.
//!
//! Both use the same frame geometry: for the image each frame point is
//! rotated by the head pose and projected; for the shadow each point is first
//! moved along the light direction until it meets the head surface (skull or
//! tapered head surface), then projected. The distance travelled widens the penumbra.
use super::head::{head_hit, Surface};
use super::scene::Scene;
use crate::synth::glasses::Frame;
use crate::synth::math::{clamp01, smoothstep, v3, V3};
use crate::synth::raster::{capsule, polygon, Canvas};

/// Where a frame point's shadow lands: image position, and distance travelled.
fn shadow_point(s: &Scene, surf: &[Surface], p: V3, l: V3) -> Option<(f32, f32, f32)> {
    let (t, r, _, _, _) = head_hit(s, p, -l);
    if !(r < 1.0 && t > 0.0) {
        return None;
    }
    let q = p - l * t;
    let (x, y, depth) = s.project(q);
    // Visible from the camera? Compare with the head's own depth there.
    let (xi, yi) = (x.floor() as isize, y.floor() as isize);
    let n = s.size as isize;
    if xi < 0 || yi < 0 || xi >= n || yi >= n {
        return None;
    }
    let sf = surf[(yi * n + xi) as usize];
    if sf.cov < 0.5 || (sf.depth - depth).abs() > 0.12 {
        return None;
    }
    Some((x, y, t))
}

/// Cast-shadow occupancy (0..1) per pixel from the key light.
pub fn shadow(s: &Scene, frame: &Frame, surf: &[Surface]) -> Vec<f32> {
    let n = s.size;
    let mut occ = vec![0.0f32; n * n];
    let l = s.rot.transpose().apply(s.light);
    // Grazing or back light casts no usable shadow onto the face.
    if l.z < 0.1 {
        return occ;
    }
    for (a, b, r) in frame.segments() {
        let (Some(qa), Some(qb)) = (shadow_point(s, surf, a, l), shadow_point(s, surf, b, l))
        else {
            continue;
        };
        let dist = (qa.2 + qb.2) * 0.5;
        let soft = s.shadow_blur + dist * s.scale * 0.08;
        let rad = r * s.scale * 1.1;
        capsule(n, n, (qa.0, qa.1), (qb.0, qb.1), rad, soft, |i, c, _, _| {
            occ[i] = occ[i].max(c);
        });
    }
    if frame.lens_opacity > 0.05 {
        for rim in &frame.rims {
            let pts: Option<Vec<(f32, f32, f32)>> =
                rim.iter().map(|p| shadow_point(s, surf, *p, l)).collect();
            let Some(pts) = pts else { continue };
            let dist = pts.iter().map(|p| p.2).sum::<f32>() / pts.len() as f32;
            let soft = s.shadow_blur + dist * s.scale * 0.08;
            let poly: Vec<(f32, f32)> = pts.iter().map(|p| (p.0, p.1)).collect();
            polygon(n, n, &poly, soft, |i, c| {
                occ[i] = occ[i].max(c * frame.lens_opacity * 0.9);
            });
        }
    }
    occ
}

/// Draw lenses and frame over the canvas; returns the glasses coverage per pixel.
pub fn draw(c: &mut Canvas, s: &Scene, frame: &Frame, surf: &[Surface]) -> Vec<f32> {
    let n = s.size;
    let mut cover = vec![0.0f32; n * n];
    // Lenses: tint what is behind, add a sky reflection band.
    let hv = (s.light + v3(0.0, 0.0, 1.0)).norm();
    for rim in &frame.rims {
        let pts: Vec<(f32, f32)> = rim
            .iter()
            .map(|p| {
                let (x, y, _) = s.project(*p);
                (x, y)
            })
            .collect();
        let (mut cx, mut cy) = (0.0, 0.0);
        for p in &pts {
            cx += p.0;
            cy += p.1;
        }
        cx /= pts.len() as f32;
        cy /= pts.len() as f32;
        let lens_r = frame.rims[0].len() as f32; // only for a stable seed-free scale
        let _ = lens_r;
        let span = s.scale * 0.3;
        let refl_col = (s.key * 0.5 + s.ambient * 1.5) * frame.reflection;
        let facing = clamp01(s.rot.r[2].z);
        polygon(n, n, &pts, 0.0, |i, cov| {
            let (x, y) = ((i % n) as f32 + 0.5, (i / n) as f32 + 0.5);
            let (u, v) = ((x - cx) / span, (y - cy) / span);
            let band = smoothstep(0.55, 0.0, (u * 0.7 + v + 0.3 + 0.3 * hv.x).abs())
                * (0.4 + 0.6 * facing);
            let p = c.px[i];
            let q = p.cmul(frame.lens_transmit) + refl_col * (band * 0.6 + 0.05);
            c.blend(i, q, cov);
            cover[i] = cover[i].max(cov);
        });
    }
    // Frame strokes, depth-tested against the head and the hair in front.
    let mut fcov = vec![0.0f32; n * n];
    let mut fcol = vec![V3::default(); n * n];
    let edge_only = matches!(frame.style, crate::synth::glasses::Style::Rimless);
    let mut segs = frame.segments();
    if edge_only {
        // Rimless lenses still show a faint bright edge.
        for rim in &frame.rims {
            for k in 0..rim.len() {
                segs.push((rim[k], rim[(k + 1) % rim.len()], -0.008));
            }
        }
    }
    for (a, b, r) in segs {
        let (ax, ay, ad) = s.project(a);
        let (bx, by, bd) = s.project(b);
        let edge = r < 0.0;
        let rad = r.abs() * s.scale;
        let (sx, sy) = (by - ay, ax - bx);
        let sl = (sx * sx + sy * sy).sqrt().max(1e-4);
        capsule(n, n, (ax, ay), (bx, by), rad, 0.0, |i, cov, t, side| {
            let d = ad + (bd - ad) * t;
            let sf = &surf[i];
            if sf.cov >= 0.5 && sf.depth > d + 0.02 {
                return;
            }
            if sf.hair_front >= 0.5 && sf.hair_front_depth > d + 0.02 {
                return;
            }
            let nrm = v3(
                side * sx / sl,
                -side * sy / sl,
                (1.0 - side * side).max(0.0).sqrt(),
            );
            let ndl = clamp01(nrm.dot(s.light));
            let mut sp = clamp01(nrm.dot(hv));
            for _ in 0..3 {
                sp *= sp;
            }
            let spec = if frame.metal { 0.5 } else { 0.3 };
            let col = if edge {
                (s.key * 0.3 + s.ambient) * 0.6
            } else {
                frame.color.cmul(s.key * (0.2 + 0.8 * ndl) + s.ambient) + s.key * (spec * sp)
            };
            let cv = if edge { cov * 0.35 } else { cov };
            if cv > fcov[i] {
                fcov[i] = cv;
                fcol[i] = col;
            }
        });
    }
    for i in 0..n * n {
        if fcov[i] > 0.0 {
            c.blend(i, fcol[i], fcov[i]);
            cover[i] = cover[i].max(fcov[i]);
        }
    }
    cover
}
