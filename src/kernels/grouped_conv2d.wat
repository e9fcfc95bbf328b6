;; Grouped 2-D convolution kernels (NHWC, float32, wasm SIMD128), generated; see src/kernels/grouped_conv2d_wasm.ts.
(module
 (import "env" "memory" (memory 1))

 (func (export "conv") (param $x i32) (param $w i32) (param $y i32) (param $N i32) (param $Hp i32) (param $Wp i32) (param $Cin i32) (param $Ho i32) (param $Wo i32) (param $Cout i32) (param $Cg i32) (param $Cog i32) (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $dh i32) (param $dw i32) (param $Cog4 i32) (param $tileRows i32) (local $G i32) (local $xPix i32) (local $xRow i32) (local $xImg i32) (local $xStep i32) (local $xTapX i32) (local $xTapY i32) (local $rowJump i32) (local $wBlk i32) (local $yPix i32) (local $n i32) (local $oy0 i32) (local $oy1 i32) (local $g i32) (local $co i32) (local $q i32) (local $nq i32) (local $cur i32) (local $cox i32) (local $xg i32) (local $wgc i32) (local $yq i32) (local $rem i32) (local $ky i32) (local $kx i32) (local $off i32) (local $offR i32) (local $wp i32) (local $wEnd i32) (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $cgEnd i32) (local $unroll i32) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $wv v128)
  (local.set $G (i32.div_u (local.get $Cin) (local.get $Cg)))
  (local.set $xPix (i32.mul (local.get $Cin) (i32.const 4)))
  (local.set $xRow (i32.mul (local.get $Wp) (local.get $xPix)))
  (local.set $xImg (i32.mul (local.get $Hp) (local.get $xRow)))
  (local.set $xStep (i32.mul (local.get $sw) (local.get $xPix)))
  (local.set $xTapX (i32.mul (local.get $dw) (local.get $xPix)))
  (local.set $xTapY (i32.mul (local.get $dh) (local.get $xRow)))
  (local.set $rowJump (i32.sub (i32.mul (local.get $sh) (local.get $xRow)) (i32.mul (local.get $Wo) (local.get $xStep))))
  (local.set $cgEnd (i32.mul (local.get $Cg) (i32.const 16)))
  (local.set $wBlk (i32.mul (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $Cg)) (i32.const 16)))
  (local.set $unroll (i32.eqz (i32.and (local.get $Cg) (i32.const 3))))
  (local.set $yPix (i32.mul (local.get $Cout) (i32.const 4)))
  (local.set $n (i32.const 0))
  (block $bn (loop $ln
    (br_if $bn (i32.ge_s (local.get $n) (local.get $N)))
    (local.set $oy0 (i32.const 0))
    (block $bt (loop $lt
      (br_if $bt (i32.ge_s (local.get $oy0) (local.get $Ho)))
      (local.set $oy1 (i32.add (local.get $oy0) (local.get $tileRows)))
      (if (i32.gt_s (local.get $oy1) (local.get $Ho)) (then (local.set $oy1 (local.get $Ho))))
      (local.set $nq (i32.mul (i32.sub (local.get $oy1) (local.get $oy0)) (local.get $Wo)))
      (local.set $g (i32.const 0))
      (block $bg (loop $lg
        (br_if $bg (i32.ge_s (local.get $g) (local.get $G)))
        (local.set $xg (i32.add (i32.add (i32.add (local.get $x) (i32.mul (local.get $n) (local.get $xImg))) (i32.mul (i32.mul (local.get $oy0) (local.get $sh)) (local.get $xRow))) (i32.mul (i32.mul (local.get $g) (local.get $Cg)) (i32.const 4))))
        (local.set $co (i32.const 0))
        (block $bco (loop $lco
          (br_if $bco (i32.ge_s (local.get $co) (local.get $Cog)))
          (local.set $wgc (i32.add (local.get $w) (i32.mul (i32.add (i32.mul (local.get $g) (i32.shr_u (local.get $Cog4) (i32.const 2))) (i32.shr_u (local.get $co) (i32.const 2))) (local.get $wBlk))))
          (local.set $yq (i32.add (i32.add (local.get $y) (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $Ho)) (local.get $oy0)) (local.get $Wo)) (local.get $yPix))) (i32.mul (i32.add (i32.mul (local.get $g) (local.get $Cog)) (local.get $co)) (i32.const 4))))
          (local.set $rem (i32.sub (local.get $Cog) (local.get $co)))
          (local.set $cur (local.get $xg))
          (local.set $cox (i32.const 0))
          (local.set $q (i32.const 0))
          (block $bq4 (loop $lq4
            (br_if $bq4 (i32.gt_s (i32.add (local.get $q) (i32.const 4)) (local.get $nq)))
            
            (local.set $p0 (local.get $cur))
            (local.set $cur (i32.add (local.get $cur) (local.get $xStep)))
            (local.set $cox (i32.add (local.get $cox) (i32.const 1)))
            (if (i32.eq (local.get $cox) (local.get $Wo)) (then (local.set $cox (i32.const 0)) (local.set $cur (i32.add (local.get $cur) (local.get $rowJump))))) 
            (local.set $p1 (local.get $cur))
            (local.set $cur (i32.add (local.get $cur) (local.get $xStep)))
            (local.set $cox (i32.add (local.get $cox) (i32.const 1)))
            (if (i32.eq (local.get $cox) (local.get $Wo)) (then (local.set $cox (i32.const 0)) (local.set $cur (i32.add (local.get $cur) (local.get $rowJump))))) 
            (local.set $p2 (local.get $cur))
            (local.set $cur (i32.add (local.get $cur) (local.get $xStep)))
            (local.set $cox (i32.add (local.get $cox) (i32.const 1)))
            (if (i32.eq (local.get $cox) (local.get $Wo)) (then (local.set $cox (i32.const 0)) (local.set $cur (i32.add (local.get $cur) (local.get $rowJump))))) 
            (local.set $p3 (local.get $cur))
            (local.set $cur (i32.add (local.get $cur) (local.get $xStep)))
            (local.set $cox (i32.add (local.get $cox) (i32.const 1)))
            (if (i32.eq (local.get $cox) (local.get $Wo)) (then (local.set $cox (i32.const 0)) (local.set $cur (i32.add (local.get $cur) (local.get $rowJump)))))
            
        (local.set $a0 (v128.const f32x4 0 0 0 0)) (local.set $a1 (v128.const f32x4 0 0 0 0)) (local.set $a2 (v128.const f32x4 0 0 0 0)) (local.set $a3 (v128.const f32x4 0 0 0 0))
        (local.set $wp (local.get $wgc))
        (local.set $ky (i32.const 0))
        (loop $ly
          (local.set $offR (i32.mul (local.get $ky) (local.get $xTapY)))
          (local.set $kx (i32.const 0))
          (loop $lx
            (local.set $off (i32.add (local.get $offR) (i32.mul (local.get $kx) (local.get $xTapX))))
            (local.set $wEnd (i32.add (local.get $wp) (local.get $cgEnd)))
            (if (local.get $unroll)
              (then (loop $lc4
                
                (local.set $wv (v128.load offset=0 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
(local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p1) (local.get $off))) (local.get $wv))))
(local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p2) (local.get $off))) (local.get $wv))))
(local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p3) (local.get $off))) (local.get $wv))))
                
                (local.set $wv (v128.load offset=16 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=4 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
(local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat offset=4 align=4 (i32.add (local.get $p1) (local.get $off))) (local.get $wv))))
(local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load32_splat offset=4 align=4 (i32.add (local.get $p2) (local.get $off))) (local.get $wv))))
(local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load32_splat offset=4 align=4 (i32.add (local.get $p3) (local.get $off))) (local.get $wv))))
                
                (local.set $wv (v128.load offset=32 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=8 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
(local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat offset=8 align=4 (i32.add (local.get $p1) (local.get $off))) (local.get $wv))))
(local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load32_splat offset=8 align=4 (i32.add (local.get $p2) (local.get $off))) (local.get $wv))))
(local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load32_splat offset=8 align=4 (i32.add (local.get $p3) (local.get $off))) (local.get $wv))))
                
                (local.set $wv (v128.load offset=48 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=12 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
(local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat offset=12 align=4 (i32.add (local.get $p1) (local.get $off))) (local.get $wv))))
(local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load32_splat offset=12 align=4 (i32.add (local.get $p2) (local.get $off))) (local.get $wv))))
(local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load32_splat offset=12 align=4 (i32.add (local.get $p3) (local.get $off))) (local.get $wv))))
                (local.set $off (i32.add (local.get $off) (i32.const 16)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 64)))
                (br_if $lc4 (i32.lt_u (local.get $wp) (local.get $wEnd)))))
              (else (loop $lc
                
                (local.set $wv (v128.load offset=0 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
(local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p1) (local.get $off))) (local.get $wv))))
(local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p2) (local.get $off))) (local.get $wv))))
(local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p3) (local.get $off))) (local.get $wv))))
                (local.set $off (i32.add (local.get $off) (i32.const 4)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
                (br_if $lc (i32.lt_u (local.get $wp) (local.get $wEnd))))))
            (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
            (br_if $lx (i32.lt_s (local.get $kx) (local.get $kw))))
          (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
          (br_if $ly (i32.lt_s (local.get $ky) (local.get $kh))))
            
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (local.get $yq) (local.get $a0)))
    (else
      (f32.store (local.get $yq) (f32x4.extract_lane 0 (local.get $a0)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $yq) (f32x4.extract_lane 1 (local.get $a0)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $yq) (f32x4.extract_lane 2 (local.get $a0)))))))
            (local.set $yq (i32.add (local.get $yq) (local.get $yPix)))
            
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (local.get $yq) (local.get $a1)))
    (else
      (f32.store (local.get $yq) (f32x4.extract_lane 0 (local.get $a1)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $yq) (f32x4.extract_lane 1 (local.get $a1)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $yq) (f32x4.extract_lane 2 (local.get $a1)))))))
            (local.set $yq (i32.add (local.get $yq) (local.get $yPix)))
            
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (local.get $yq) (local.get $a2)))
    (else
      (f32.store (local.get $yq) (f32x4.extract_lane 0 (local.get $a2)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $yq) (f32x4.extract_lane 1 (local.get $a2)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $yq) (f32x4.extract_lane 2 (local.get $a2)))))))
            (local.set $yq (i32.add (local.get $yq) (local.get $yPix)))
            
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (local.get $yq) (local.get $a3)))
    (else
      (f32.store (local.get $yq) (f32x4.extract_lane 0 (local.get $a3)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $yq) (f32x4.extract_lane 1 (local.get $a3)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $yq) (f32x4.extract_lane 2 (local.get $a3)))))))
            (local.set $yq (i32.add (local.get $yq) (local.get $yPix)))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (br $lq4)))
          (block $bq1 (loop $lq1
            (br_if $bq1 (i32.ge_s (local.get $q) (local.get $nq)))
            
            (local.set $p0 (local.get $cur))
            (local.set $cur (i32.add (local.get $cur) (local.get $xStep)))
            (local.set $cox (i32.add (local.get $cox) (i32.const 1)))
            (if (i32.eq (local.get $cox) (local.get $Wo)) (then (local.set $cox (i32.const 0)) (local.set $cur (i32.add (local.get $cur) (local.get $rowJump)))))
            
        (local.set $a0 (v128.const f32x4 0 0 0 0)) 
        (local.set $wp (local.get $wgc))
        (local.set $ky (i32.const 0))
        (loop $ly
          (local.set $offR (i32.mul (local.get $ky) (local.get $xTapY)))
          (local.set $kx (i32.const 0))
          (loop $lx
            (local.set $off (i32.add (local.get $offR) (i32.mul (local.get $kx) (local.get $xTapX))))
            (local.set $wEnd (i32.add (local.get $wp) (local.get $cgEnd)))
            (if (local.get $unroll)
              (then (loop $lc4
                
                (local.set $wv (v128.load offset=0 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
                
                (local.set $wv (v128.load offset=16 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=4 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
                
                (local.set $wv (v128.load offset=32 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=8 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
                
                (local.set $wv (v128.load offset=48 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=12 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
                (local.set $off (i32.add (local.get $off) (i32.const 16)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 64)))
                (br_if $lc4 (i32.lt_u (local.get $wp) (local.get $wEnd)))))
              (else (loop $lc
                
                (local.set $wv (v128.load offset=0 align=4 (local.get $wp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat offset=0 align=4 (i32.add (local.get $p0) (local.get $off))) (local.get $wv))))
                (local.set $off (i32.add (local.get $off) (i32.const 4)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
                (br_if $lc (i32.lt_u (local.get $wp) (local.get $wEnd))))))
            (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
            (br_if $lx (i32.lt_s (local.get $kx) (local.get $kw))))
          (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
          (br_if $ly (i32.lt_s (local.get $ky) (local.get $kh))))
            
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (local.get $yq) (local.get $a0)))
    (else
      (f32.store (local.get $yq) (f32x4.extract_lane 0 (local.get $a0)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $yq) (f32x4.extract_lane 1 (local.get $a0)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $yq) (f32x4.extract_lane 2 (local.get $a0)))))))
            (local.set $yq (i32.add (local.get $yq) (local.get $yPix)))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $lq1)))
          (local.set $co (i32.add (local.get $co) (i32.const 4)))
          (br $lco)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $lg)))
      (local.set $oy0 (local.get $oy1))
      (br $lt)))
    (local.set $n (i32.add (local.get $n) (i32.const 1)))
    (br $ln)))
 )

 (func (export "filterGrad") (param $x i32) (param $dy i32) (param $dw i32) (param $N i32) (param $Hp i32) (param $Wp i32) (param $Cin i32) (param $Ho i32) (param $Wo i32) (param $Cout i32) (param $Cg i32) (param $Cog i32) (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $dh i32) (param $dwl i32) (param $tileRows i32) (local $G i32) (local $xPix i32) (local $xRow i32) (local $xImg i32) (local $xStep i32) (local $yPix i32) (local $dwRow i32) (local $n i32) (local $oy0 i32) (local $oy1 i32) (local $g i32) (local $co i32) (local $rem i32) (local $tap i32) (local $ky i32) (local $kx i32) (local $ci i32) (local $nci i32) (local $xt i32) (local $dwp i32) (local $oy i32) (local $xrow i32) (local $dyrow i32) (local $xp i32) (local $dp i32) (local $dEnd i32) (local $dyc i32) (local $xc i32) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $d v128)
  (local.set $G (i32.div_u (local.get $Cin) (local.get $Cg)))
  (local.set $xPix (i32.mul (local.get $Cin) (i32.const 4)))
  (local.set $xRow (i32.mul (local.get $Wp) (local.get $xPix)))
  (local.set $xImg (i32.mul (local.get $Hp) (local.get $xRow)))
  (local.set $xStep (i32.mul (local.get $sw) (local.get $xPix)))
  (local.set $yPix (i32.mul (local.get $Cout) (i32.const 4)))
  (local.set $dwRow (i32.mul (local.get $Cout) (i32.const 4)))
  (memory.fill (local.get $dw) (i32.const 0) (i32.mul (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $Cg)) (local.get $dwRow)))
  (if (i32.eqz (i32.mul (local.get $Ho) (local.get $Wo))) (then (return)))
  (local.set $n (i32.const 0))
  (block $bn (loop $ln
    (br_if $bn (i32.ge_s (local.get $n) (local.get $N)))
    (local.set $oy0 (i32.const 0))
    (block $bt (loop $lt
      (br_if $bt (i32.ge_s (local.get $oy0) (local.get $Ho)))
      (local.set $oy1 (i32.add (local.get $oy0) (local.get $tileRows)))
      (if (i32.gt_s (local.get $oy1) (local.get $Ho)) (then (local.set $oy1 (local.get $Ho))))
      (local.set $g (i32.const 0))
      (block $bg (loop $lg
        (br_if $bg (i32.ge_s (local.get $g) (local.get $G)))
        (local.set $co (i32.const 0))
        (block $bco (loop $lco
          (br_if $bco (i32.ge_s (local.get $co) (local.get $Cog)))
          (local.set $rem (i32.sub (local.get $Cog) (local.get $co)))
          (local.set $dyc (i32.add (i32.add (local.get $dy) (i32.mul (i32.mul (local.get $n) (i32.mul (local.get $Ho) (local.get $Wo))) (local.get $yPix))) (i32.mul (i32.add (i32.mul (local.get $g) (local.get $Cog)) (local.get $co)) (i32.const 4))))
          (local.set $ky (i32.const 0))
          (loop $lky
            (local.set $kx (i32.const 0))
            (loop $lkx
              (local.set $xc (i32.add (i32.add (i32.add (local.get $x) (i32.mul (local.get $n) (local.get $xImg))) (i32.mul (i32.mul (local.get $ky) (local.get $dh)) (local.get $xRow))) (i32.add (i32.mul (i32.mul (local.get $kx) (local.get $dwl)) (local.get $xPix)) (i32.mul (i32.mul (local.get $g) (local.get $Cg)) (i32.const 4)))))
              (local.set $ci (i32.const 0))
              (block $bc4 (loop $lc4
                (br_if $bc4 (i32.gt_s (i32.add (local.get $ci) (i32.const 4)) (local.get $Cg)))
                (local.set $xt (i32.add (local.get $xc) (i32.mul (local.get $ci) (i32.const 4))))
                (local.set $dwp (i32.add (local.get $dw) (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $Cg)) (local.get $ci)) (local.get $dwRow)) (i32.mul (i32.add (i32.mul (local.get $g) (local.get $Cog)) (local.get $co)) (i32.const 4)))))
                
              (local.set $a0 
  (if (result v128) (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.load align=4 (local.get $dwp)))
    (else (if (result v128) (i32.eq (local.get $rem) (i32.const 1))
      (then (v128.load32_zero align=4 (local.get $dwp)))
      (else (if (result v128) (i32.eq (local.get $rem) (i32.const 2))
        (then (v128.load64_zero align=4 (local.get $dwp)))
        (else (f32x4.replace_lane 2 (v128.load64_zero align=4 (local.get $dwp)) (f32.load offset=8 (local.get $dwp))))))))))
              
              (local.set $a1 
  (if (result v128) (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.load align=4 (i32.add (local.get $dwp) (local.get $dwRow))))
    (else (if (result v128) (i32.eq (local.get $rem) (i32.const 1))
      (then (v128.load32_zero align=4 (i32.add (local.get $dwp) (local.get $dwRow))))
      (else (if (result v128) (i32.eq (local.get $rem) (i32.const 2))
        (then (v128.load64_zero align=4 (i32.add (local.get $dwp) (local.get $dwRow))))
        (else (f32x4.replace_lane 2 (v128.load64_zero align=4 (i32.add (local.get $dwp) (local.get $dwRow))) (f32.load offset=8 (i32.add (local.get $dwp) (local.get $dwRow)))))))))))
              (local.set $a2 
  (if (result v128) (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.load align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2)))))
    (else (if (result v128) (i32.eq (local.get $rem) (i32.const 1))
      (then (v128.load32_zero align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2)))))
      (else (if (result v128) (i32.eq (local.get $rem) (i32.const 2))
        (then (v128.load64_zero align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2)))))
        (else (f32x4.replace_lane 2 (v128.load64_zero align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2)))) (f32.load offset=8 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2))))))))))))
              (local.set $a3 
  (if (result v128) (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.load align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3)))))
    (else (if (result v128) (i32.eq (local.get $rem) (i32.const 1))
      (then (v128.load32_zero align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3)))))
      (else (if (result v128) (i32.eq (local.get $rem) (i32.const 2))
        (then (v128.load64_zero align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3)))))
        (else (f32x4.replace_lane 2 (v128.load64_zero align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3)))) (f32.load offset=8 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3))))))))))))
              (local.set $oy (local.get $oy0))
              (loop $lpy
                (local.set $xp (i32.add (local.get $xt) (i32.mul (i32.mul (local.get $oy) (local.get $sh)) (local.get $xRow))))
                (local.set $dp (i32.add (local.get $dyc) (i32.mul (local.get $oy) (i32.mul (local.get $Wo) (local.get $yPix)))))
                (local.set $dEnd (i32.add (local.get $dp) (i32.mul (local.get $Wo) (local.get $yPix))))
                (loop $lpx
                  (local.set $d 
  (if (result v128) (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.load align=4 (local.get $dp)))
    (else (if (result v128) (i32.eq (local.get $rem) (i32.const 1))
      (then (v128.load32_zero align=4 (local.get $dp)))
      (else (if (result v128) (i32.eq (local.get $rem) (i32.const 2))
        (then (v128.load64_zero align=4 (local.get $dp)))
        (else (f32x4.replace_lane 2 (v128.load64_zero align=4 (local.get $dp)) (f32.load offset=8 (local.get $dp))))))))))
                  (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat align=4 (local.get $xp)) (local.get $d))))
                  
                  (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat offset=4 align=4 (local.get $xp)) (local.get $d))))
                  (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load32_splat offset=8 align=4 (local.get $xp)) (local.get $d))))
                  (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load32_splat offset=12 align=4 (local.get $xp)) (local.get $d))))
                  (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                  (local.set $dp (i32.add (local.get $dp) (local.get $yPix)))
                  (br_if $lpx (i32.lt_u (local.get $dp) (local.get $dEnd))))
                (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
                (br_if $lpy (i32.lt_s (local.get $oy) (local.get $oy1))))
              
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (local.get $dwp) (local.get $a0)))
    (else
      (f32.store (local.get $dwp) (f32x4.extract_lane 0 (local.get $a0)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $dwp) (f32x4.extract_lane 1 (local.get $a0)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $dwp) (f32x4.extract_lane 2 (local.get $a0)))))))
              
              
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (i32.add (local.get $dwp) (local.get $dwRow)) (local.get $a1)))
    (else
      (f32.store (i32.add (local.get $dwp) (local.get $dwRow)) (f32x4.extract_lane 0 (local.get $a1)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (i32.add (local.get $dwp) (local.get $dwRow)) (f32x4.extract_lane 1 (local.get $a1)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (i32.add (local.get $dwp) (local.get $dwRow)) (f32x4.extract_lane 2 (local.get $a1)))))))
              
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2))) (local.get $a2)))
    (else
      (f32.store (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2))) (f32x4.extract_lane 0 (local.get $a2)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2))) (f32x4.extract_lane 1 (local.get $a2)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 2))) (f32x4.extract_lane 2 (local.get $a2)))))))
              
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3))) (local.get $a3)))
    (else
      (f32.store (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3))) (f32x4.extract_lane 0 (local.get $a3)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3))) (f32x4.extract_lane 1 (local.get $a3)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (i32.add (local.get $dwp) (i32.mul (local.get $dwRow) (i32.const 3))) (f32x4.extract_lane 2 (local.get $a3)))))))
                (local.set $ci (i32.add (local.get $ci) (i32.const 4)))
                (br $lc4)))
              (block $bc1 (loop $lc1
                (br_if $bc1 (i32.ge_s (local.get $ci) (local.get $Cg)))
                (local.set $xt (i32.add (local.get $xc) (i32.mul (local.get $ci) (i32.const 4))))
                (local.set $dwp (i32.add (local.get $dw) (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $Cg)) (local.get $ci)) (local.get $dwRow)) (i32.mul (i32.add (i32.mul (local.get $g) (local.get $Cog)) (local.get $co)) (i32.const 4)))))
                
              (local.set $a0 
  (if (result v128) (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.load align=4 (local.get $dwp)))
    (else (if (result v128) (i32.eq (local.get $rem) (i32.const 1))
      (then (v128.load32_zero align=4 (local.get $dwp)))
      (else (if (result v128) (i32.eq (local.get $rem) (i32.const 2))
        (then (v128.load64_zero align=4 (local.get $dwp)))
        (else (f32x4.replace_lane 2 (v128.load64_zero align=4 (local.get $dwp)) (f32.load offset=8 (local.get $dwp))))))))))
              
              (local.set $oy (local.get $oy0))
              (loop $lpy
                (local.set $xp (i32.add (local.get $xt) (i32.mul (i32.mul (local.get $oy) (local.get $sh)) (local.get $xRow))))
                (local.set $dp (i32.add (local.get $dyc) (i32.mul (local.get $oy) (i32.mul (local.get $Wo) (local.get $yPix)))))
                (local.set $dEnd (i32.add (local.get $dp) (i32.mul (local.get $Wo) (local.get $yPix))))
                (loop $lpx
                  (local.set $d 
  (if (result v128) (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.load align=4 (local.get $dp)))
    (else (if (result v128) (i32.eq (local.get $rem) (i32.const 1))
      (then (v128.load32_zero align=4 (local.get $dp)))
      (else (if (result v128) (i32.eq (local.get $rem) (i32.const 2))
        (then (v128.load64_zero align=4 (local.get $dp)))
        (else (f32x4.replace_lane 2 (v128.load64_zero align=4 (local.get $dp)) (f32.load offset=8 (local.get $dp))))))))))
                  (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat align=4 (local.get $xp)) (local.get $d))))
                  
                  (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                  (local.set $dp (i32.add (local.get $dp) (local.get $yPix)))
                  (br_if $lpx (i32.lt_u (local.get $dp) (local.get $dEnd))))
                (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
                (br_if $lpy (i32.lt_s (local.get $oy) (local.get $oy1))))
              
  (if (i32.ge_s (local.get $rem) (i32.const 4))
    (then (v128.store align=4 (local.get $dwp) (local.get $a0)))
    (else
      (f32.store (local.get $dwp) (f32x4.extract_lane 0 (local.get $a0)))
      (if (i32.gt_s (local.get $rem) (i32.const 1)) (then (f32.store offset=4 (local.get $dwp) (f32x4.extract_lane 1 (local.get $a0)))))
      (if (i32.gt_s (local.get $rem) (i32.const 2)) (then (f32.store offset=8 (local.get $dwp) (f32x4.extract_lane 2 (local.get $a0)))))))
              
                (local.set $ci (i32.add (local.get $ci) (i32.const 1)))
                (br $lc1)))
              (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
              (br_if $lkx (i32.lt_s (local.get $kx) (local.get $kw))))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br_if $lky (i32.lt_s (local.get $ky) (local.get $kh))))
          (local.set $co (i32.add (local.get $co) (i32.const 4)))
          (br $lco)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $lg)))
      (local.set $oy0 (local.get $oy1))
      (br $lt)))
    (local.set $n (i32.add (local.get $n) (i32.const 1)))
    (br $ln)))
 )
)
