fn main() {
    let p = std::env::args().nth(1).unwrap();
    let b = std::fs::read(p).unwrap();
    let m = mote_host::tflite::schema::Model::read(&b).unwrap();
    println!("version {} desc {:?} buffers {}", m.version, m.description, m.buffers.len());
    for c in &m.operator_codes { println!("opcode {} {} v{}", c.builtin, mote_host::tflite::schema::builtin_name(c.builtin), c.version); }
    for sg in &m.subgraphs {
        println!("subgraph {:?} in {:?} out {:?}", sg.name, sg.inputs, sg.outputs);
        for (i, t) in sg.tensors.iter().enumerate() {
            let q = t.quantization.as_ref().map(|q| (q.scale.len(), q.scale.first().copied(), q.zero_point.first().copied(), q.quantized_dimension));
            println!("  t{i} {:?} {:?} buf{}({}B) {} q={:?}", t.shape, t.dtype, t.buffer, m.buffers.get(t.buffer as usize).map_or(0, |b| b.len()), t.name, q);
        }
        for o in &sg.operators { println!("  op {} in {:?} out {:?} {:?}", o.opcode_index, o.inputs, o.outputs, o.options); }
    }
}
