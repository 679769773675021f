# How much bfloat16 inputs cost a Winograd convolution's accuracy, against the same arithmetic in
# float64, for F(4x4,3x3) (nabla's training layers) and F(2x2,3x3). One 3x3 layer of 256 -> 64
# channels on 200 tiles of leaky-ReLU-like activations, He-initialised filters. Three variants:
# the transformed filter U and input V rounded to float32 (what nabla does now), to bfloat16 (what
# a bf16 GEMM on U and V would see), and bf16 rounding of the raw filter and input instead (what a
# bf16 direct convolution sees). Prints each one's RMS error relative to the output's RMS.
# Usage: /usr/bin/python3 bench/winograd_bf16_error.py   (needs python3-numpy)
import numpy as np
rng=np.random.default_rng(0)
def bf16(x):
    x=np.asarray(x,np.float32); b=x.view(np.uint32).astype(np.uint64)
    r=((b+0x7FFF+((b>>16)&1))>>16)<<16
    return r.astype(np.uint32).view(np.float32)
# F(4,3) and F(2,3) transforms (Lavin and Gray), as src/tensor/winograd_tiles.h
BT=np.array([[4,0,-5,0,1,0],[0,-4,-4,1,1,0],[0,4,-4,-1,1,0],[0,-2,-1,2,1,0],[0,2,-1,-2,1,0],[0,4,0,-5,0,1]],np.float64)
G=np.array([[1/4,0,0],[-1/6,-1/6,-1/6],[-1/6,1/6,-1/6],[1/24,1/12,1/6],[1/24,-1/12,1/6],[0,0,1]],np.float64)
AT=np.array([[1,1,1,1,1,0],[0,1,-1,2,-2,0],[0,1,1,4,4,0],[0,1,-1,8,-8,1]],np.float64)
BT2=np.array([[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]],np.float64)
G2=np.array([[1,0,0],[.5,.5,.5],[.5,-.5,.5],[0,0,1]],np.float64)
AT2=np.array([[1,1,1,0],[0,1,-1,-1]],np.float64)
C=256;O=64;tiles=200
def run(BT,G,AT,m):
    t=BT.shape[0]
    d=rng.standard_normal((tiles,C,t,t))  # GELU-ish activations: use |x| skew
    d=np.where(d>0,d,0.1*d)
    g=rng.standard_normal((O,C,3,3))*np.sqrt(2/(9*C))
    V=np.einsum('ij,ncjk,lk->ncil',BT,d,BT)
    U=np.einsum('ij,ocjk,lk->ocil',G,g,G)
    def out(U,V):
        M=np.einsum('ocil,ncil->noil',U,V)
        return np.einsum('ij,nojk,lk->noil',AT,M,AT)
    ref=out(U,V)
    ref32=out(U.astype(np.float32).astype(np.float64),V.astype(np.float32).astype(np.float64))
    yb=out(bf16(U).astype(np.float64),bf16(V).astype(np.float64))
    # direct bf16 conv for comparison: round d and g to bf16, exact compute
    U_d=np.einsum('ij,ocjk,lk->ocil',G,bf16(g).astype(np.float64),G)
    V_d=np.einsum('ij,ncjk,lk->ncil',BT,bf16(d).astype(np.float64),BT)
    yd=out(U_d,V_d)
    rms=np.sqrt((ref**2).mean())
    print(f"F({m},3): rel rms err fp32-transformed {np.sqrt(((ref32-ref)**2).mean())/rms:.2e}  bf16 winograd {np.sqrt(((yb-ref)**2).mean())/rms:.2e}  bf16 direct {np.sqrt(((yd-ref)**2).mean())/rms:.2e}")
run(BT,G,AT,4); run(BT2,G2,AT2,2)
