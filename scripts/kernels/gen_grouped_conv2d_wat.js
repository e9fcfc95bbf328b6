// Emits src/kernels/grouped_conv2d.wat: forward and filter-gradient kernels of a grouped 2-D convolution (NHWC, wasm
// SIMD128). Run through scripts/kernels/build_grouped_conv2d.sh, which also embeds the assembled module.
const L = (n) => `(local.get $${n})`;
const S = (n, v) => `(local.set $${n} ${v})`;
const add = (a, b) => `(i32.add ${a} ${b})`;
const mul = (a, b) => `(i32.mul ${a} ${b})`;
const c = (v) => `(i32.const ${v})`;
const fma = (acc, a, b) => S(acc, `(f32x4.add ${L(acc)} (f32x4.mul ${a} ${b}))`);
const splat = (p) => `(v128.load32_splat align=4 ${p})`;
const zero = '(v128.const f32x4 0 0 0 0)';
// Store lanes [0, rem) of v at p (rem >= 4: whole vector).
const storeV = (p, v, rem) => `
  (if (i32.ge_s ${rem} ${c(4)})
    (then (v128.store align=4 ${p} ${v}))
    (else
      (f32.store ${p} (f32x4.extract_lane 0 ${v}))
      (if (i32.gt_s ${rem} ${c(1)}) (then (f32.store offset=4 ${p} (f32x4.extract_lane 1 ${v}))))
      (if (i32.gt_s ${rem} ${c(2)}) (then (f32.store offset=8 ${p} (f32x4.extract_lane 2 ${v}))))))`;
// Load lanes [0, rem) from p, zeros elsewhere.
const loadV = (p, rem) => `
  (if (result v128) (i32.ge_s ${rem} ${c(4)})
    (then (v128.load align=4 ${p}))
    (else (if (result v128) (i32.eq ${rem} ${c(1)})
      (then (v128.load32_zero align=4 ${p}))
      (else (if (result v128) (i32.eq ${rem} ${c(2)})
        (then (v128.load64_zero align=4 ${p}))
        (else (f32x4.replace_lane 2 (v128.load64_zero align=4 ${p}) (f32.load offset=8 ${p}))))))))`;

const BLOCK = Number(process.env.BLOCK || 8);
const geomParams = ['x', 'w', 'y', 'N', 'Hp', 'Wp', 'Cin', 'Ho', 'Wo', 'Cout', 'Cg', 'Cog', 'kh', 'kw', 'sh', 'sw', 'dh', 'dw'];

// Forward: y[n,oy,ox,g*Cog+co] = sum_{ky,kx,ci} x[n, oy*sh+ky*dh, ox*sw+kx*dw, g*Cg+ci] * wP[g, co/4, ky, kx, ci, co%4].
// x is already padded ([N, Hp, Wp, Cin]); wP is the filter packed per group and block of 4 output channels
// ([G, Cog4/4, kh, kw, Cg, 4], Cog4 = 4*ceil(Cog/4), zero columns past Cog), so the inner loop reads it
// contiguously. Pixels are taken in tiles of `tileRows` output rows of one image and in blocks of 4 (a block
// may span rows): each weight vector loaded serves 4 pixels.
function fwd() {
  const params = geomParams.concat(['Cog4', 'tileRows']).map((p) => `(param $${p} i32)`).join(' ');
  const locals = ['G', 'xPix', 'xRow', 'xImg', 'xStep', 'xTapX', 'xTapY', 'rowJump', 'wBlk', 'yPix', 'n', 'oy0', 'oy1', 'g', 'co',
    'q', 'nq', 'cur', 'cox', 'xg', 'wgc', 'yq', 'rem', 'ky', 'kx', 'off', 'offR', 'wp', 'wEnd', 'p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7', 'cgEnd', 'unroll']
    .map((l) => `(local $${l} i32)`).join(' ');
  const accs = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => `(local $a${k} v128)`).join(' ') + ' (local $wv v128)';
  const ps = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
  // One input channel (at byte offset o from `off`) times one weight vector (at byte offset wo from `wp`).
  const step = (np, o, wo) => `
                ${S('wv', `(v128.load offset=${wo} align=4 ${L('wp')})`)}
                ${ps.slice(0, np).map((p, k) => fma(`a${k}`, `(v128.load32_splat offset=${o} align=4 ${L('q' + k)})`, L('wv'))).join('\n')}`;
  // Pixel pointers at the current tap and input channel.
  const setQ = (np) => ps.slice(0, np).map((p, k) => S(`q${k}`, add(L(p), L('off')))).join(' ');
  const reduce = (np) => `
        ${[...Array(np).keys()].map((k) => S(`a${k}`, zero)).join(' ')}
        ${S('wp', L('wgc'))}
        ${S('ky', c(0))}
        (loop $ly
          ${S('offR', mul(L('ky'), L('xTapY')))}
          ${S('kx', c(0))}
          (loop $lx
            ${S('off', add(L('offR'), mul(L('kx'), L('xTapX'))))}
            ${S('wEnd', add(L('wp'), L('cgEnd')))}
            (if ${L('unroll')}
              (then (loop $lc4
                ${setQ(np)}
                ${step(np, 0, 0)}
                ${step(np, 4, 16)}
                ${step(np, 8, 32)}
                ${step(np, 12, 48)}
                ${S('off', add(L('off'), c(16)))}
                ${S('wp', add(L('wp'), c(64)))}
                (br_if $lc4 (i32.lt_u ${L('wp')} ${L('wEnd')}))))
              (else (loop $lc
                ${setQ(np)}
                ${step(np, 0, 0)}
                ${S('off', add(L('off'), c(4)))}
                ${S('wp', add(L('wp'), c(16)))}
                (br_if $lc (i32.lt_u ${L('wp')} ${L('wEnd')})))))
            ${S('kx', add(L('kx'), c(1)))}
            (br_if $lx (i32.lt_s ${L('kx')} ${L('kw')})))
          ${S('ky', add(L('ky'), c(1)))}
          (br_if $ly (i32.lt_s ${L('ky')} ${L('kh')})))`;
  // Next pixel of the tile: its x pointer into `p`, then advance (cur, cox) by one output pixel.
  const next = (p) => `
            ${S(p, L('cur'))}
            ${S('cur', add(L('cur'), L('xStep')))}
            ${S('cox', add(L('cox'), c(1)))}
            (if (i32.eq ${L('cox')} ${L('Wo')}) (then ${S('cox', c(0))} ${S('cur', add(L('cur'), L('rowJump')))}))`;
  return `
 (func (export "conv") ${params} ${locals} ${accs}
  ${S('G', `(i32.div_u ${L('Cin')} ${L('Cg')})`)}
  ${S('xPix', mul(L('Cin'), c(4)))}
  ${S('xRow', mul(L('Wp'), L('xPix')))}
  ${S('xImg', mul(L('Hp'), L('xRow')))}
  ${S('xStep', mul(L('sw'), L('xPix')))}
  ${S('xTapX', mul(L('dw'), L('xPix')))}
  ${S('xTapY', mul(L('dh'), L('xRow')))}
  ${S('rowJump', `(i32.sub ${mul(L('sh'), L('xRow'))} ${mul(L('Wo'), L('xStep'))})`)}
  ${S('cgEnd', mul(L('Cg'), c(16)))}
  ${S('wBlk', mul(mul(mul(L('kh'), L('kw')), L('Cg')), c(16)))}
  ${S('unroll', `(i32.eqz (i32.and ${L('Cg')} ${c(3)}))`)}
  ${S('yPix', mul(L('Cout'), c(4)))}
  ${S('n', c(0))}
  (block $bn (loop $ln
    (br_if $bn (i32.ge_s ${L('n')} ${L('N')}))
    ${S('oy0', c(0))}
    (block $bt (loop $lt
      (br_if $bt (i32.ge_s ${L('oy0')} ${L('Ho')}))
      ${S('oy1', add(L('oy0'), L('tileRows')))}
      (if (i32.gt_s ${L('oy1')} ${L('Ho')}) (then ${S('oy1', L('Ho'))}))
      ${S('nq', mul(`(i32.sub ${L('oy1')} ${L('oy0')})`, L('Wo')))}
      ${S('g', c(0))}
      (block $bg (loop $lg
        (br_if $bg (i32.ge_s ${L('g')} ${L('G')}))
        ${S('xg', add(add(add(L('x'), mul(L('n'), L('xImg'))), mul(mul(L('oy0'), L('sh')), L('xRow'))), mul(mul(L('g'), L('Cg')), c(4))))}
        ${S('co', c(0))}
        (block $bco (loop $lco
          (br_if $bco (i32.ge_s ${L('co')} ${L('Cog')}))
          ${S('wgc', add(L('w'), mul(add(mul(L('g'), `(i32.shr_u ${L('Cog4')} ${c(2)})`), `(i32.shr_u ${L('co')} ${c(2)})`), L('wBlk'))))}
          ${S('yq', add(add(L('y'), mul(mul(add(mul(L('n'), L('Ho')), L('oy0')), L('Wo')), L('yPix'))), mul(add(mul(L('g'), L('Cog')), L('co')), c(4))))}
          ${S('rem', `(i32.sub ${L('Cog')} ${L('co')})`)}
          ${S('cur', L('xg'))}
          ${S('cox', c(0))}
          ${S('q', c(0))}
          (block $bq8 (loop $lq8
            (br_if $bq8 (i32.gt_s (i32.add ${L('q')} ${c(BLOCK)}) ${L('nq')}))
            ${ps.slice(0, BLOCK).map((p) => next(p)).join(' ')}
            ${reduce(BLOCK)}
            ${[...Array(BLOCK).keys()].map((k) => `${storeV(L('yq'), L('a' + k), L('rem'))}
            ${S('yq', add(L('yq'), L('yPix')))}`).join('\n')}
            ${S('q', add(L('q'), c(BLOCK)))}
            (br $lq8)))
          (block $bq1 (loop $lq1
            (br_if $bq1 (i32.ge_s ${L('q')} ${L('nq')}))
            ${next('p0')}
            ${reduce(1)}
            ${storeV(L('yq'), L('a0'), L('rem'))}
            ${S('yq', add(L('yq'), L('yPix')))}
            ${S('q', add(L('q'), c(1)))}
            (br $lq1)))
          ${S('co', add(L('co'), c(4)))}
          (br $lco)))
        ${S('g', add(L('g'), c(1)))}
        (br $lg)))
      ${S('oy0', L('oy1'))}
      (br $lt)))
    ${S('n', add(L('n'), c(1)))}
    (br $ln)))
 )`;
}

// Filter gradient: dw[ky,kx,ci,g*Cog+co] = sum_{n,oy,ox} x[n, oy*sh+ky*dh, ox*sw+kx*dw, g*Cg+ci] * dy[n,oy,ox,g*Cog+co]
// (x padded). Pixels are swept in tiles of `tileRows` output rows of one image so that the tile stays in cache
// while every (group, channel block, tap, input-channel block) accumulates over it.
function bwdFilter() {
  const params = ['x', 'dy', 'dw', 'N', 'Hp', 'Wp', 'Cin', 'Ho', 'Wo', 'Cout', 'Cg', 'Cog', 'kh', 'kw', 'sh', 'sw', 'dh', 'dwl', 'tileRows']
    .map((p) => `(param $${p} i32)`).join(' ');
  const locals = ['G', 'xPix', 'xRow', 'xImg', 'xStep', 'yPix', 'dwRow', 'n', 'oy0', 'oy1', 'g', 'co', 'rem', 'tap', 'ky', 'kx',
    'ci', 'nci', 'xt', 'dwp', 'oy', 'xrow', 'dyrow', 'xp', 'dp', 'dEnd', 'dyc', 'xc', 'xTap', 'tapDw', 'xp1', 'xp2']
    .map((l) => `(local $${l} i32)`).join(' ');
  const accs = '(local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $d v128) ' +
    [...Array(12).keys()].map((k) => `(local $b${k} v128)`).join(' ');
  // Three horizontal taps (kx, kx+1, kx+2) x 4 input channels at once (Cg a multiple of 4, at least 8): each dy
  // vector loaded serves 12 products.
  const accAddr = (t, i) => add(L('dwp'), add(mul(L('tapDw'), c(t)), mul(L('dwRow'), c(i))));
  const sweep3 = () => `
              ${[...Array(12).keys()].map((k) => S(`b${k}`, loadV(accAddr(Math.floor(k / 4), k % 4), L('rem')))).join('\n              ')}
              ${S('oy', L('oy0'))}
              (loop $lpy3
                ${S('xp', add(L('xt'), mul(mul(L('oy'), L('sh')), L('xRow'))))}
                ${S('xp1', add(L('xp'), L('xTap')))}
                ${S('xp2', add(L('xp1'), L('xTap')))}
                ${S('dp', add(L('dyc'), mul(L('oy'), mul(L('Wo'), L('yPix')))))}
                ${S('dEnd', add(L('dp'), mul(L('Wo'), L('yPix'))))}
                (loop $lpx3
                  ${S('d', loadV(L('dp'), L('rem')))}
                  ${[...Array(12).keys()].map((k) => fma(`b${k}`, `(v128.load32_splat offset=${4 * (k % 4)} align=4 ${L(['xp', 'xp1', 'xp2'][Math.floor(k / 4)])})`, L('d'))).join('\n                  ')}
                  ${S('xp', add(L('xp'), L('xStep')))}
                  ${S('xp1', add(L('xp1'), L('xStep')))}
                  ${S('xp2', add(L('xp2'), L('xStep')))}
                  ${S('dp', add(L('dp'), L('yPix')))}
                  (br_if $lpx3 (i32.lt_u ${L('dp')} ${L('dEnd')})))
                ${S('oy', add(L('oy'), c(1)))}
                (br_if $lpy3 (i32.lt_s ${L('oy')} ${L('oy1')})))
              ${[...Array(12).keys()].map((k) => storeV(accAddr(Math.floor(k / 4), k % 4), L(`b${k}`), L('rem'))).join('\n              ')}`;
  const sweep = (nc) => `
              ${S('a0', loadV(L('dwp'), L('rem')))}
              ${nc === 4 ? `
              ${S('a1', loadV(add(L('dwp'), L('dwRow')), L('rem')))}
              ${S('a2', loadV(add(L('dwp'), mul(L('dwRow'), c(2))), L('rem')))}
              ${S('a3', loadV(add(L('dwp'), mul(L('dwRow'), c(3))), L('rem')))}` : ''}
              ${S('oy', L('oy0'))}
              (loop $lpy
                ${S('xp', add(L('xt'), mul(mul(L('oy'), L('sh')), L('xRow'))))}
                ${S('dp', add(L('dyc'), mul(L('oy'), mul(L('Wo'), L('yPix')))))}
                ${S('dEnd', add(L('dp'), mul(L('Wo'), L('yPix'))))}
                (loop $lpx
                  ${S('d', loadV(L('dp'), L('rem')))}
                  ${fma('a0', splat(L('xp')), L('d'))}
                  ${nc === 4 ? `
                  ${fma('a1', `(v128.load32_splat offset=4 align=4 ${L('xp')})`, L('d'))}
                  ${fma('a2', `(v128.load32_splat offset=8 align=4 ${L('xp')})`, L('d'))}
                  ${fma('a3', `(v128.load32_splat offset=12 align=4 ${L('xp')})`, L('d'))}` : ''}
                  ${S('xp', add(L('xp'), L('xStep')))}
                  ${S('dp', add(L('dp'), L('yPix')))}
                  (br_if $lpx (i32.lt_u ${L('dp')} ${L('dEnd')})))
                ${S('oy', add(L('oy'), c(1)))}
                (br_if $lpy (i32.lt_s ${L('oy')} ${L('oy1')})))
              ${storeV(L('dwp'), L('a0'), L('rem'))}
              ${nc === 4 ? `
              ${storeV(add(L('dwp'), L('dwRow')), L('a1'), L('rem'))}
              ${storeV(add(L('dwp'), mul(L('dwRow'), c(2))), L('a2'), L('rem'))}
              ${storeV(add(L('dwp'), mul(L('dwRow'), c(3))), L('a3'), L('rem'))}` : ''}`;
  return `
 (func (export "filterGrad") ${params} ${locals} ${accs}
  ${S('G', `(i32.div_u ${L('Cin')} ${L('Cg')})`)}
  ${S('xPix', mul(L('Cin'), c(4)))}
  ${S('xRow', mul(L('Wp'), L('xPix')))}
  ${S('xImg', mul(L('Hp'), L('xRow')))}
  ${S('xStep', mul(L('sw'), L('xPix')))}
  ${S('yPix', mul(L('Cout'), c(4)))}
  ${S('dwRow', mul(L('Cout'), c(4)))}
  ${S('xTap', mul(L('dwl'), L('xPix')))}
  ${S('tapDw', mul(L('Cg'), L('dwRow')))}
  (memory.fill ${L('dw')} ${c(0)} ${mul(mul(mul(L('kh'), L('kw')), L('Cg')), L('dwRow'))})
  (if (i32.eqz (i32.mul ${L('Ho')} ${L('Wo')})) (then (return)))
  ${S('n', c(0))}
  (block $bn (loop $ln
    (br_if $bn (i32.ge_s ${L('n')} ${L('N')}))
    ${S('oy0', c(0))}
    (block $bt (loop $lt
      (br_if $bt (i32.ge_s ${L('oy0')} ${L('Ho')}))
      ${S('oy1', add(L('oy0'), L('tileRows')))}
      (if (i32.gt_s ${L('oy1')} ${L('Ho')}) (then ${S('oy1', L('Ho'))}))
      ${S('g', c(0))}
      (block $bg (loop $lg
        (br_if $bg (i32.ge_s ${L('g')} ${L('G')}))
        ${S('co', c(0))}
        (block $bco (loop $lco
          (br_if $bco (i32.ge_s ${L('co')} ${L('Cog')}))
          ${S('rem', `(i32.sub ${L('Cog')} ${L('co')})`)}
          ${S('dyc', add(add(L('dy'), mul(mul(L('n'), mul(L('Ho'), L('Wo'))), L('yPix'))), mul(add(mul(L('g'), L('Cog')), L('co')), c(4))))}
          ${S('ky', c(0))}
          (loop $lky
            ${S('kx', c(0))}
            (loop $lkx
              ${S('xc', add(add(add(L('x'), mul(L('n'), L('xImg'))), mul(mul(L('ky'), L('dh')), L('xRow'))),
                add(mul(mul(L('kx'), L('dwl')), L('xPix')), mul(mul(L('g'), L('Cg')), c(4)))))}
              ${S('ci', c(0))}
              ;; (measured slower than single taps at 4 channels per group, faster at 8)
              (if (i32.and (i32.le_s ${add(L('kx'), c(3))} ${L('kw')})
                (i32.and (i32.eqz (i32.and ${L('Cg')} ${c(3)})) (i32.ge_s ${L('Cg')} ${c(8)})))
                (then
                  (loop $lc43
                    ${S('xt', add(L('xc'), mul(L('ci'), c(4))))}
                    ${S('dwp', add(L('dw'), add(mul(add(mul(add(mul(L('ky'), L('kw')), L('kx')), L('Cg')), L('ci')), L('dwRow')),
                      mul(add(mul(L('g'), L('Cog')), L('co')), c(4)))))}
                    ${sweep3()}
                    ${S('ci', add(L('ci'), c(4)))}
                    (br_if $lc43 (i32.lt_s ${L('ci')} ${L('Cg')})))
                  ${S('kx', add(L('kx'), c(2)))}
                  ${S('ci', L('Cg'))}))
              (block $bc4 (loop $lc4
                (br_if $bc4 (i32.gt_s (i32.add ${L('ci')} ${c(4)}) ${L('Cg')}))
                ${S('xt', add(L('xc'), mul(L('ci'), c(4))))}
                ${S('dwp', add(L('dw'), add(mul(add(mul(add(mul(L('ky'), L('kw')), L('kx')), L('Cg')), L('ci')), L('dwRow')),
                  mul(add(mul(L('g'), L('Cog')), L('co')), c(4)))))}
                ${sweep(4)}
                ${S('ci', add(L('ci'), c(4)))}
                (br $lc4)))
              (block $bc1 (loop $lc1
                (br_if $bc1 (i32.ge_s ${L('ci')} ${L('Cg')}))
                ${S('xt', add(L('xc'), mul(L('ci'), c(4))))}
                ${S('dwp', add(L('dw'), add(mul(add(mul(add(mul(L('ky'), L('kw')), L('kx')), L('Cg')), L('ci')), L('dwRow')),
                  mul(add(mul(L('g'), L('Cog')), L('co')), c(4)))))}
                ${sweep(1)}
                ${S('ci', add(L('ci'), c(1)))}
                (br $lc1)))
              ${S('kx', add(L('kx'), c(1)))}
              (br_if $lkx (i32.lt_s ${L('kx')} ${L('kw')})))
            ${S('ky', add(L('ky'), c(1)))}
            (br_if $lky (i32.lt_s ${L('ky')} ${L('kh')})))
          ${S('co', add(L('co'), c(4)))}
          (br $lco)))
        ${S('g', add(L('g'), c(1)))}
        (br $lg)))
      ${S('oy0', L('oy1'))}
      (br $lt)))
    ${S('n', add(L('n'), c(1)))}
    (br $ln)))
 )`;
}

// Planar zero-padded copy of x: xp[n, c, pt + iy, pl + ix] = x[n, iy, ix, c] ([N, Cin, H+pt+pb, W+pl+pr], zeros
// elsewhere; Cin a multiple of 4), by 4x4 transposes of 4 pixels x 4 channels, one input row (in cache) at a time.
const shuf = (a, b, lanes) => `(i8x16.shuffle ${lanes.map((l) => [0, 1, 2, 3].map((i) => 4 * l + i).join(' ')).join(' ')} ${a} ${b})`;
const transpose4 = (a, r) => `
      ${S('t0', shuf(L(a[0]), L(a[1]), [0, 4, 1, 5]))} ${S('t1', shuf(L(a[2]), L(a[3]), [0, 4, 1, 5]))}
      ${S('t2', shuf(L(a[0]), L(a[1]), [2, 6, 3, 7]))} ${S('t3', shuf(L(a[2]), L(a[3]), [2, 6, 3, 7]))}
      ${S(r[0], shuf(L('t0'), L('t1'), [0, 1, 4, 5]))} ${S(r[1], shuf(L('t0'), L('t1'), [2, 3, 6, 7]))}
      ${S(r[2], shuf(L('t2'), L('t3'), [0, 1, 4, 5]))} ${S(r[3], shuf(L('t2'), L('t3'), [2, 3, 6, 7]))}`;
function packPlanar() {
  const params = ['x', 'xp', 'N', 'H', 'W', 'Cin', 'pt', 'pb', 'pl', 'pr'].map((p) => `(param $${p} i32)`).join(' ');
  const locals = ['Hp', 'Wp', 'plane', 'rowB', 'src', 'dst', 'n', 'c4', 'xPix', 'ix', 'k', 'r', 'rowSrc', 'rowDst', 'q']
    .map((l) => `(local $${l} i32)`).join(' ');
  const vl = ['v0', 'v1', 'v2', 'v3', 't0', 't1', 't2', 't3', 'r0', 'r1', 'r2', 'r3'].map((l) => `(local $${l} v128)`).join(' ');
  // Zero `cnt` floats at byte offset `off` of the rows of the 4 planes starting at rowDst (scalar stores: the
  // padding columns are few, and a memory.fill per column costs more than the copy itself).
  const zeroCols = (off, cnt, id) => `
        ${S('q', add(L('rowDst'), off))}
        ${S('k', c(0))}
        (block $bz${id} (loop $lz${id}
          (br_if $bz${id} (i32.ge_s ${L('k')} ${cnt}))
          (f32.store ${L('q')} (f32.const 0))
          (f32.store ${add(L('q'), L('plane'))} (f32.const 0))
          (f32.store ${add(L('q'), mul(L('plane'), c(2)))} (f32.const 0))
          (f32.store ${add(L('q'), mul(L('plane'), c(3)))} (f32.const 0))
          ${S('q', add(L('q'), c(4)))}
          ${S('k', add(L('k'), c(1)))}
          (br $lz${id})))`;
  // Zero `bytes` (a multiple of 4) bytes at p, by vector stores then scalar ones (uses locals q and k).
  const zeroBytes = (p, bytes, id) => `
      ${S('q', p)}
      ${S('k', add(p, bytes))}
      (block $bzb${id} (loop $lzb${id}
        (br_if $bzb${id} (i32.gt_u ${add(L('q'), c(16))} ${L('k')}))
        (v128.store align=4 ${L('q')} ${zero})
        ${S('q', add(L('q'), c(16)))}
        (br $lzb${id})))
      (block $bzs${id} (loop $lzs${id}
        (br_if $bzs${id} (i32.ge_u ${L('q')} ${L('k')}))
        (f32.store ${L('q')} (f32.const 0))
        ${S('q', add(L('q'), c(4)))}
        (br $lzs${id})))`;
  return `
 (func (export "packPlanar") ${params} ${locals} ${vl}
  ${S('Hp', add(add(L('H'), L('pt')), L('pb')))}
  ${S('Wp', add(add(L('W'), L('pl')), L('pr')))}
  ${S('rowB', mul(L('Wp'), c(4)))}
  ${S('plane', mul(L('Hp'), L('rowB')))}
  ${S('xPix', mul(L('Cin'), c(4)))}
  ${S('n', c(0))}
  (block $bn (loop $ln
    (br_if $bn (i32.ge_s ${L('n')} ${L('N')}))
    ;; top and bottom padding rows of every plane
    ${S('c4', c(0))}
    (block $bc0 (loop $lc0
      (br_if $bc0 (i32.ge_s ${L('c4')} ${L('Cin')}))
      ${S('dst', add(L('xp'), mul(add(mul(L('n'), L('Cin')), L('c4')), L('plane'))))}
      ${zeroBytes(L('dst'), mul(L('pt'), L('rowB')), 't')}
      ${zeroBytes(add(L('dst'), mul(add(L('pt'), L('H')), L('rowB'))), mul(L('pb'), L('rowB')), 'b')}
      ${S('c4', add(L('c4'), c(1)))}
      (br $lc0)))
    ${S('r', c(0))}
    (block $br (loop $lr
      (br_if $br (i32.ge_s ${L('r')} ${L('H')}))
      ${S('rowSrc', add(L('x'), mul(add(mul(L('n'), L('H')), L('r')), mul(L('W'), L('xPix')))))}
      ${S('c4', c(0))}
      (block $bc (loop $lc
        (br_if $bc (i32.ge_s ${L('c4')} ${L('Cin')}))
        ${S('rowDst', add(L('xp'), add(mul(add(mul(L('n'), L('Cin')), L('c4')), L('plane')), mul(add(L('r'), L('pt')), L('rowB')))))}
        ${zeroCols(c(0), L('pl'), 'l')}
        ${zeroCols(mul(add(L('pl'), L('W')), c(4)), L('pr'), 'r')}
        ${S('src', add(L('rowSrc'), mul(L('c4'), c(4))))}
        ${S('dst', add(L('rowDst'), mul(L('pl'), c(4))))}
        ${S('ix', c(0))}
        (block $bp (loop $lp
          (br_if $bp (i32.gt_s ${add(L('ix'), c(4))} ${L('W')}))
          ${S('v0', `(v128.load align=4 ${L('src')})`)}
          ${S('v1', `(v128.load align=4 ${add(L('src'), L('xPix'))})`)}
          ${S('v2', `(v128.load align=4 ${add(L('src'), mul(L('xPix'), c(2)))})`)}
          ${S('v3', `(v128.load align=4 ${add(L('src'), mul(L('xPix'), c(3)))})`)}
          ${transpose4(['v0', 'v1', 'v2', 'v3'], ['r0', 'r1', 'r2', 'r3'])}
          (v128.store align=4 ${L('dst')} ${L('r0')})
          (v128.store align=4 ${add(L('dst'), L('plane'))} ${L('r1')})
          (v128.store align=4 ${add(L('dst'), mul(L('plane'), c(2)))} ${L('r2')})
          (v128.store align=4 ${add(L('dst'), mul(L('plane'), c(3)))} ${L('r3')})
          ${S('src', add(L('src'), mul(L('xPix'), c(4))))}
          ${S('dst', add(L('dst'), c(16)))}
          ${S('ix', add(L('ix'), c(4)))}
          (br $lp)))
        (block $bp1 (loop $lp1
          (br_if $bp1 (i32.ge_s ${L('ix')} ${L('W')}))
          ${S('k', c(0))}
          (loop $lk
            (f32.store ${add(L('dst'), mul(L('k'), L('plane')))} (f32.load ${add(L('src'), mul(L('k'), c(4)))}))
            ${S('k', add(L('k'), c(1)))}
            (br_if $lk (i32.lt_s ${L('k')} ${c(4)})))
          ${S('src', add(L('src'), L('xPix')))}
          ${S('dst', add(L('dst'), c(4)))}
          ${S('ix', add(L('ix'), c(1)))}
          (br $lp1)))
        ${S('c4', add(L('c4'), c(4)))}
        (br $lc)))
      ${S('r', add(L('r'), c(1)))}
      (br $lr)))
    ${S('n', add(L('n'), c(1)))}
    (br $ln)))
 )`;
}

// Forward kernel with pixels in lanes (stride 1 along x, Cog a multiple of 4), on the planar input xp of packPlanar:
// for a block of 4*np output pixels of one row and 4 output channels co of group g,
// acc[k][co] (pixels 4k..4k+3) += xp[n, g*Cg+ci, oy*sh+ky*dh, ox+4k+kx*dw .. +3] * wP[g, co/4, ky, kx, ci, co%4],
// then 4x4 transposes give NHWC pixels. Suits few channels per group (each input vector serves 4 weights).
// Reads up to 12 bytes past a row (lanes not stored), so xp needs 16 bytes of slack at its end.
function fwdPlanar(np) {
  const params = ['xp', 'w', 'y', 'N', 'Hp', 'Wp', 'Cin', 'Ho', 'Wo', 'Cout', 'Cg', 'Cog', 'kh', 'kw', 'sh', 'dh', 'dw']
    .map((p) => `(param $${p} i32)`).join(' ');
  const locals = ['G', 'plane', 'rowB', 'yPix', 'wBlk', 'nb', 'n', 'g', 'b', 'oy', 'ox', 'xg', 'wgb', 'yb', 'xr', 'yr', 'pb', 'p', 'pj',
    'wp', 'ky', 'kx', 'j', 'tapY', 'tapX', 'yo', 'rem', 'wEnd']
    .map((l) => `(local $${l} i32)`).join(' ');
  const A = (k, v) => `a${k}_${v}`;
  const accs = [];
  for (let k = 0; k < np; k++) for (let v = 0; v < 4; v++) accs.push(`(local $${A(k, v)} v128)`);
  const xs = [...Array(np).keys()].map((k) => `(local $x${k} v128)`).join(' ');
  const block = (P, partial) => {
    const zeroAll = [];
    for (let k = 0; k < P; k++) for (let v = 0; v < 4; v++) zeroAll.push(S(A(k, v), zero));
    const stores = [];
    for (let k = 0; k < P; k++) {
      stores.push(transpose4([0, 1, 2, 3].map((v) => A(k, v)), ['r0', 'r1', 'r2', 'r3']));
      for (let q = 0; q < 4; q++) {
        const st = `(v128.store align=4 ${L('yo')} ${L('r' + q)}) ${S('yo', add(L('yo'), L('yPix')))}`;
        stores.push(partial ? `(if (i32.gt_s ${L('rem')} ${c(4 * k + q)}) (then ${st}))` : st);
      }
    }
    return `
        ${zeroAll.join(' ')}
        ${S('wp', L('wgb'))}
        ${S('pb', add(L('xr'), mul(L('ox'), c(4))))}
        ${S('ky', c(0))}
        (loop $ly${P}${partial ? 'r' : ''}
          ${S('p', add(L('pb'), mul(L('ky'), L('tapY'))))}
          ${S('kx', c(0))}
          (loop $lx${P}${partial ? 'r' : ''}
            ${S('pj', L('p'))}
            ${S('wEnd', add(L('wp'), mul(L('Cg'), c(16))))}
            (loop $lj${P}${partial ? 'r' : ''}
              ${[...Array(P).keys()].map((k) => S(`x${k}`, `(v128.load offset=${16 * k} align=4 ${L('pj')})`)).join(' ')}
              ${[0, 1, 2, 3].map((v) => `${S('s', `(v128.load32_splat offset=${4 * v} align=4 ${L('wp')})`)}
              ${[...Array(P).keys()].map((k) => fma(A(k, v), L(`x${k}`), L('s'))).join(' ')}`).join('\n              ')}
              ${S('wp', add(L('wp'), c(16)))}
              ${S('pj', add(L('pj'), L('plane')))}
              (br_if $lj${P}${partial ? 'r' : ''} (i32.lt_u ${L('wp')} ${L('wEnd')})))
            ${S('p', add(L('p'), L('tapX')))}
            ${S('kx', add(L('kx'), c(1)))}
            (br_if $lx${P}${partial ? 'r' : ''} (i32.lt_s ${L('kx')} ${L('kw')})))
          ${S('ky', add(L('ky'), c(1)))}
          (br_if $ly${P}${partial ? 'r' : ''} (i32.lt_s ${L('ky')} ${L('kh')})))
        ${S('yo', add(L('yr'), mul(L('ox'), L('yPix'))))}
        ${stores.join('\n        ')}`;
  };
  return `
 (func (export "convPlanarP${np}") ${params} ${locals} ${accs.join(' ')} ${xs} (local $s v128)
  (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
  ${S('G', `(i32.div_u ${L('Cin')} ${L('Cg')})`)}
  ${S('plane', mul(mul(L('Hp'), L('Wp')), c(4)))}
  ${S('rowB', mul(L('Wp'), c(4)))}
  ${S('tapY', mul(mul(L('dh'), L('Wp')), c(4)))}
  ${S('tapX', mul(L('dw'), c(4)))}
  ${S('yPix', mul(L('Cout'), c(4)))}
  ${S('nb', `(i32.shr_u ${L('Cog')} ${c(2)})`)}
  ${S('wBlk', mul(mul(mul(L('kh'), L('kw')), L('Cg')), c(16)))}
  ${S('n', c(0))}
  (block $bn (loop $ln
    (br_if $bn (i32.ge_s ${L('n')} ${L('N')}))
    ${S('oy', c(0))}
    (block $boy (loop $loy
      (br_if $boy (i32.ge_s ${L('oy')} ${L('Ho')}))
      ${S('g', c(0))}
      (block $bg (loop $lg
        (br_if $bg (i32.ge_s ${L('g')} ${L('G')}))
        ${S('xr', add(L('xp'), add(mul(add(mul(L('n'), L('Cin')), mul(L('g'), L('Cg'))), L('plane')), mul(mul(L('oy'), L('sh')), L('rowB')))))}
        ${S('b', c(0))}
        (block $bb (loop $lb
          (br_if $bb (i32.ge_s ${L('b')} ${L('nb')}))
          ${S('wgb', add(L('w'), mul(add(mul(L('g'), L('nb')), L('b')), L('wBlk'))))}
          ${S('yr', add(add(L('y'), mul(mul(add(mul(L('n'), L('Ho')), L('oy')), L('Wo')), L('yPix'))), mul(add(mul(L('g'), L('Cog')), mul(L('b'), c(4))), c(4))))}
          ${S('ox', c(0))}
          (block $bx (loop $lx
            (br_if $bx (i32.gt_s ${add(L('ox'), c(4 * np))} ${L('Wo')}))
            ${block(np, false)}
            ${S('ox', add(L('ox'), c(4 * np)))}
            (br $lx)))
          (block $bx1 (loop $lx1
            (br_if $bx1 (i32.ge_s ${L('ox')} ${L('Wo')}))
            ${S('rem', `(i32.sub ${L('Wo')} ${L('ox')})`)}
            ${block(1, true)}
            ${S('ox', add(L('ox'), c(4)))}
            (br $lx1)))
          ${S('b', add(L('b'), c(1)))}
          (br $lb)))
        ${S('g', add(L('g'), c(1)))}
        (br $lg)))
      ${S('oy', add(L('oy'), c(1)))}
      (br $loy)))
    ${S('n', add(L('n'), c(1)))}
    (br $ln)))
 )`;
}

// Filter gradient on planar inputs (stride 1 along x, Cg even, Cog a multiple of 4): xp from packPlanar (padded x,
// [N, Cin, Hp, Wp]) and dyp ([N, Cout, Ho, Wo]). For a pair of input channels ci and 4 output channels co of one
// group and one tap, acc[ci][co] (a vector over 4 pixels of a row) += xp[n, g*Cg+ci, oy*sh+ky*dh, ox+kx*dw .. +3] *
// dyp[n, g*Cog+co, oy, ox .. +3]; the lane partial sums live in `acc` ([kh, kw, Cg, Cout, 4]) across tiles of
// `tileRows` output rows and are summed at the end into acc's first kh*kw*Cg*Cout floats (dw, HWIO).
// Lanes past the end of a row are masked (both factors, as the bytes past a row may hold anything).
function bwdFilterPlanar() {
  const params = ['xp', 'dyp', 'acc', 'N', 'Hp', 'Wp', 'Cin', 'Ho', 'Wo', 'Cout', 'Cg', 'Cog', 'kh', 'kw', 'sh', 'dh', 'dwl', 'tileRows']
    .map((p) => `(param $${p} i32)`).join(' ');
  const locals = ['G', 'planeX', 'planeY', 'rowX', 'n', 'oy0', 'oy1', 'g', 'co', 'ky', 'kx', 'ci', 'ap', 'apRow', 'xpl', 'dpl', 'oy',
    'xr', 'xr1', 'dr', 'dEnd', 'pY2', 'pY3', 'rem', 'i', 'total']
    .map((l) => `(local $${l} i32)`).join(' ');
  const A = (i, j) => `a${i}${j}`;
  const vl = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) vl.push(`(local $${A(i, j)} v128)`);
  vl.push('(local $x0 v128) (local $x1 v128) (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128) (local $m v128)');
  const dAddr = (j) => (j === 0 ? L('dr') : j === 1 ? add(L('dr'), L('planeY')) : add(L('dr'), L(j === 2 ? 'pY2' : 'pY3')));
  const body = (masked) => {
    const mk = (v) => (masked ? `(v128.and ${v} ${L('m')})` : v);
    return `
                ${S('x0', mk(`(v128.load align=4 ${L('xr')})`))}
                ${S('x1', mk(`(v128.load align=4 ${L('xr1')})`))}
                ${[0, 1, 2, 3].map((j) => S(`d${j}`, mk(`(v128.load align=4 ${dAddr(j)})`))).join(' ')}
                ${[0, 1].map((i) => [0, 1, 2, 3].map((j) => fma(A(i, j), L(`x${i}`), L(`d${j}`))).join(' ')).join('\n                ')}`;
  };
  return `
 (func (export "filterGradPlanar") ${params} ${locals} ${vl.join(' ')}
  ${S('G', `(i32.div_u ${L('Cin')} ${L('Cg')})`)}
  ${S('rowX', mul(L('Wp'), c(4)))}
  ${S('planeX', mul(L('Hp'), L('rowX')))}
  ${S('planeY', mul(mul(L('Ho'), L('Wo')), c(4)))}
  ${S('pY2', mul(L('planeY'), c(2)))}
  ${S('pY3', mul(L('planeY'), c(3)))}
  ${S('apRow', mul(L('Cout'), c(16)))}
  ${S('total', mul(mul(mul(L('kh'), L('kw')), L('Cg')), L('Cout')))}
  (memory.fill ${L('acc')} ${c(0)} ${mul(L('total'), c(16))})
  ${S('n', c(0))}
  (block $bn (loop $ln
    (br_if $bn (i32.ge_s ${L('n')} ${L('N')}))
    ${S('oy0', c(0))}
    (block $bt (loop $lt
      (br_if $bt (i32.ge_s ${L('oy0')} ${L('Ho')}))
      ${S('oy1', add(L('oy0'), L('tileRows')))}
      (if (i32.gt_s ${L('oy1')} ${L('Ho')}) (then ${S('oy1', L('Ho'))}))
      ${S('g', c(0))}
      (block $bg (loop $lg
        (br_if $bg (i32.ge_s ${L('g')} ${L('G')}))
        ${S('co', c(0))}
        (block $bco (loop $lco
          (br_if $bco (i32.ge_s ${L('co')} ${L('Cog')}))
          ${S('dpl', add(L('dyp'), mul(add(mul(L('n'), L('Cout')), add(mul(L('g'), L('Cog')), L('co'))), L('planeY'))))}
          ${S('ky', c(0))}
          (loop $lky
            ${S('kx', c(0))}
            (loop $lkx
              ${S('ci', c(0))}
              (loop $lci
                ${S('ap', add(L('acc'), add(mul(add(mul(add(mul(L('ky'), L('kw')), L('kx')), L('Cg')), L('ci')), L('apRow')),
                  mul(add(mul(L('g'), L('Cog')), L('co')), c(16)))))}
                ${[0, 1].map((i) => [0, 1, 2, 3].map((j) => S(A(i, j), `(v128.load offset=${16 * j} align=4 ${i ? add(L('ap'), L('apRow')) : L('ap')})`)).join(' ')).join('\n                ')}
                ${S('xpl', add(L('xp'), add(mul(add(mul(L('n'), L('Cin')), add(mul(L('g'), L('Cg')), L('ci'))), L('planeX')),
                  add(mul(mul(L('ky'), L('dh')), L('rowX')), mul(mul(L('kx'), L('dwl')), c(4))))))}
                ${S('oy', L('oy0'))}
                (loop $loy
                  ${S('xr', add(L('xpl'), mul(mul(L('oy'), L('sh')), L('rowX'))))}
                  ${S('xr1', add(L('xr'), L('planeX')))}
                  ${S('dr', add(L('dpl'), mul(mul(L('oy'), L('Wo')), c(4))))}
                  ${S('dEnd', add(L('dr'), mul(`(i32.and ${L('Wo')} ${c(-4)})`, c(4))))}
                  (block $bx (loop $lx
                    (br_if $bx (i32.ge_u ${L('dr')} ${L('dEnd')}))
                    ${body(false)}
                    ${S('xr', add(L('xr'), c(16)))}
                    ${S('xr1', add(L('xr1'), c(16)))}
                    ${S('dr', add(L('dr'), c(16)))}
                    (br $lx)))
                  ${S('rem', `(i32.and ${L('Wo')} ${c(3)})`)}
                  (if ${L('rem')} (then
                    ${S('m', `(i32x4.gt_s (i32x4.splat ${L('rem')}) (v128.const i32x4 0 1 2 3))`)}
                    ${body(true)}))
                  ${S('oy', add(L('oy'), c(1)))}
                  (br_if $loy (i32.lt_s ${L('oy')} ${L('oy1')})))
                ${[0, 1].map((i) => [0, 1, 2, 3].map((j) => `(v128.store offset=${16 * j} align=4 ${i ? add(L('ap'), L('apRow')) : L('ap')} ${L(A(i, j))})`).join(' ')).join('\n                ')}
                ${S('ci', add(L('ci'), c(2)))}
                (br_if $lci (i32.lt_s ${L('ci')} ${L('Cg')})))
              ${S('kx', add(L('kx'), c(1)))}
              (br_if $lkx (i32.lt_s ${L('kx')} ${L('kw')})))
            ${S('ky', add(L('ky'), c(1)))}
            (br_if $lky (i32.lt_s ${L('ky')} ${L('kh')})))
          ${S('co', add(L('co'), c(4)))}
          (br $lco)))
        ${S('g', add(L('g'), c(1)))}
        (br $lg)))
      ${S('oy0', L('oy1'))}
      (br $lt)))
    ${S('n', add(L('n'), c(1)))}
    (br $ln)))
  ;; lane sums, in place (entry i is written after entries 4i..4i+3 are read)
  ${S('i', c(0))}
  (block $bs (loop $ls
    (br_if $bs (i32.ge_s ${L('i')} ${L('total')}))
    ${S('x0', `(v128.load align=4 ${add(L('acc'), mul(L('i'), c(16)))})`)}
    (f32.store ${add(L('acc'), mul(L('i'), c(4)))} (f32.add (f32.add (f32x4.extract_lane 0 ${L('x0')}) (f32x4.extract_lane 1 ${L('x0')}))
      (f32.add (f32x4.extract_lane 2 ${L('x0')}) (f32x4.extract_lane 3 ${L('x0')}))))
    ${S('i', add(L('i'), c(1)))}
    (br $ls)))
 )`;
}

process.stdout.write(`;; Grouped 2-D convolution kernels (NHWC, float32, wasm SIMD128), generated; see src/kernels/grouped_conv2d_wasm.ts.
(module
 (import "env" "memory" (memory 1))
${fwd()}
${packPlanar()}
${fwdPlanar(2)}
${bwdFilter()}
${bwdFilterPlanar()}
)
`);
