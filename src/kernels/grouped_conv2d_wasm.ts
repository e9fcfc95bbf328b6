/**
 * Grouped 2-D convolution kernels in WebAssembly SIMD128 (float32, NHWC): the forward convolution and the filter
 * gradient. tfjs-backend-wasm's XNNPACK entry points take groups = 1 (Conv2D) or groups = Cin (depthwise) only, so
 * a ResNeXt convolution (32 groups of 4..32 channels) has no fast path through tfjs ops; these kernels compute it
 * directly.
 *
 * Stride 1 along x (every ResNeXt 3x3 but the first of a stage) uses planar kernels with pixels in lanes: the input
 * is repacked channel-planar ([Cin, rows, Wp], zero padding written by the repack) so that 4 adjacent pixels of one
 * channel are one f32x4 and a group's few channels per pixel no longer cost a splat load per product; the forward
 * pass repacks and convolves bands of output rows through a cache-sized scratch, then 4x4 transposes give NHWC.
 * Otherwise (stride 2, channel counts not a multiple of 4) NHWC kernels splat input values against 4 output
 * channels (one f32x4) at a time.
 *
 * On the wasm backend the module imports the backend's own memory and reads/writes tensors in place (no copies);
 * on any other backend it runs on a private memory with the inputs copied in and the result copied out.
 *
 * Source: `grouped_conv2d.wat` next to this file (the module below is its `wat2wasm` output, base64).
 * Reference semantics: PyTorch `torch.nn.functional.conv2d` with groups (`aten/src/ATen/native/Convolution.cpp`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ConvGeometry } from '../ops/conv';

const WASM_BASE64 =
  'AGFzbQEAAAABZAVgFH9/f39/f39/f39/f39/f39/f39/AGAKf39/f39/f39/fwBgEX9/f39/f39/f39/f39/f39/AGATf39/f39/f39/f39/f39/f39/fwBgEn9/f39/f39/f39/f39/f39/fwACDwEDZW52Bm1lbW9yeQIAAQMGBQABAgMEB0QFBGNvbnYAAApwYWNrUGxhbmFyAAEMY29udlBsYW5hclAyAAIKZmlsdGVyR3JhZAADEGZpbHRlckdyYWRQbGFuYXIABAr6WgXlFQIvfwl7IAYgCm4hFCAGQQRsIRUgBSAVbCEWIAQgFmwhFyAPIBVsIRggESAVbCEZIBAgFmwhGiAOIBZsIAggGGxrIRsgCkEQbCFBIAwgDWwgCmxBEGwhHCAKQQNxRSFCIAlBBGwhHUEAIR4CQANAIB4gA04NAUEAIR8CQANAIB8gB04NASAfIBNqISAgICAHSgRAIAchIAsgICAfayAIbCEkQQAhIQJAA0AgISAUTg0BIAAgHiAXbGogHyAObCAWbGogISAKbEEEbGohJ0EAISICQANAICIgC04NASABICEgEkECdmwgIkECdmogHGxqISggAiAeIAdsIB9qIAhsIB1saiAhIAtsICJqQQRsaiEpIAsgImshKiAnISVBACEmQQAhIwJAA0AgI0EIaiAkSg0BICUhMSAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITIgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSEzICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhNCAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITUgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSE2ICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhNyAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITggJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQv9DAAAAAAAAAAAAAAAAAAAAAAhQ/0MAAAAAAAAAAAAAAAAAAAAACFE/QwAAAAAAAAAAAAAAAAAAAAAIUX9DAAAAAAAAAAAAAAAAAAAAAAhRv0MAAAAAAAAAAAAAAAAAAAAACFH/QwAAAAAAAAAAAAAAAAAAAAAIUj9DAAAAAAAAAAAAAAAAAAAAAAhSf0MAAAAAAAAAAAAAAAAAAAAACFKICghL0EAISsDQCArIBpsIS5BACEsA0AgLiAsIBlsaiEtIC8gQWohMCBCBEADQCAxIC1qITkgMiAtaiE6IDMgLWohOyA0IC1qITwgNSAtaiE9IDYgLWohPiA3IC1qIT8gOCAtaiFAIC/9AAIAIUsgQyA5/QkCACBL/eYB/eQBIUMgRCA6/QkCACBL/eYB/eQBIUQgRSA7/QkCACBL/eYB/eQBIUUgRiA8/QkCACBL/eYB/eQBIUYgRyA9/QkCACBL/eYB/eQBIUcgSCA+/QkCACBL/eYB/eQBIUggSSA//QkCACBL/eYB/eQBIUkgSiBA/QkCACBL/eYB/eQBIUogL/0AAhAhSyBDIDn9CQIEIEv95gH95AEhQyBEIDr9CQIEIEv95gH95AEhRCBFIDv9CQIEIEv95gH95AEhRSBGIDz9CQIEIEv95gH95AEhRiBHID39CQIEIEv95gH95AEhRyBIID79CQIEIEv95gH95AEhSCBJID/9CQIEIEv95gH95AEhSSBKIED9CQIEIEv95gH95AEhSiAv/QACICFLIEMgOf0JAgggS/3mAf3kASFDIEQgOv0JAgggS/3mAf3kASFEIEUgO/0JAgggS/3mAf3kASFFIEYgPP0JAgggS/3mAf3kASFGIEcgPf0JAgggS/3mAf3kASFHIEggPv0JAgggS/3mAf3kASFIIEkgP/0JAgggS/3mAf3kASFJIEogQP0JAgggS/3mAf3kASFKIC/9AAIwIUsgQyA5/QkCDCBL/eYB/eQBIUMgRCA6/QkCDCBL/eYB/eQBIUQgRSA7/QkCDCBL/eYB/eQBIUUgRiA8/QkCDCBL/eYB/eQBIUYgRyA9/QkCDCBL/eYB/eQBIUcgSCA+/QkCDCBL/eYB/eQBIUggSSA//QkCDCBL/eYB/eQBIUkgSiBA/QkCDCBL/eYB/eQBIUogLUEQaiEtIC9BwABqIS8gLyAwSQ0ACwUDQCAxIC1qITkgMiAtaiE6IDMgLWohOyA0IC1qITwgNSAtaiE9IDYgLWohPiA3IC1qIT8gOCAtaiFAIC/9AAIAIUsgQyA5/QkCACBL/eYB/eQBIUMgRCA6/QkCACBL/eYB/eQBIUQgRSA7/QkCACBL/eYB/eQBIUUgRiA8/QkCACBL/eYB/eQBIUYgRyA9/QkCACBL/eYB/eQBIUcgSCA+/QkCACBL/eYB/eQBIUggSSA//QkCACBL/eYB/eQBIUkgSiBA/QkCACBL/eYB/eQBIUogLUEEaiEtIC9BEGohLyAvIDBJDQALCyAsQQFqISwgLCANSA0ACyArQQFqISsgKyAMSA0ACyAqQQROBEAgKSBD/QsCAAUgKSBD/R8AOAIAICpBAUoEQCApIEP9HwE4AgQLICpBAkoEQCApIEP9HwI4AggLCyApIB1qISkgKkEETgRAICkgRP0LAgAFICkgRP0fADgCACAqQQFKBEAgKSBE/R8BOAIECyAqQQJKBEAgKSBE/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEX9CwIABSApIEX9HwA4AgAgKkEBSgRAICkgRf0fATgCBAsgKkECSgRAICkgRf0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBG/QsCAAUgKSBG/R8AOAIAICpBAUoEQCApIEb9HwE4AgQLICpBAkoEQCApIEb9HwI4AggLCyApIB1qISkgKkEETgRAICkgR/0LAgAFICkgR/0fADgCACAqQQFKBEAgKSBH/R8BOAIECyAqQQJKBEAgKSBH/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEj9CwIABSApIEj9HwA4AgAgKkEBSgRAICkgSP0fATgCBAsgKkECSgRAICkgSP0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBJ/QsCAAUgKSBJ/R8AOAIAICpBAUoEQCApIEn9HwE4AgQLICpBAkoEQCApIEn9HwI4AggLCyApIB1qISkgKkEETgRAICkgSv0LAgAFICkgSv0fADgCACAqQQFKBEAgKSBK/R8BOAIECyAqQQJKBEAgKSBK/R8COAIICwsgKSAdaiEpICNBCGohIwwACwsCQANAICMgJE4NASAlITEgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQv9DAAAAAAAAAAAAAAAAAAAAAAhQyAoIS9BACErA0AgKyAabCEuQQAhLANAIC4gLCAZbGohLSAvIEFqITAgQgRAA0AgMSAtaiE5IC/9AAIAIUsgQyA5/QkCACBL/eYB/eQBIUMgL/0AAhAhSyBDIDn9CQIEIEv95gH95AEhQyAv/QACICFLIEMgOf0JAgggS/3mAf3kASFDIC/9AAIwIUsgQyA5/QkCDCBL/eYB/eQBIUMgLUEQaiEtIC9BwABqIS8gLyAwSQ0ACwUDQCAxIC1qITkgL/0AAgAhSyBDIDn9CQIAIEv95gH95AEhQyAtQQRqIS0gL0EQaiEvIC8gMEkNAAsLICxBAWohLCAsIA1IDQALICtBAWohKyArIAxIDQALICpBBE4EQCApIEP9CwIABSApIEP9HwA4AgAgKkEBSgRAICkgQ/0fATgCBAsgKkECSgRAICkgQ/0fAjgCCAsLICkgHWohKSAjQQFqISMMAAsLICJBBGohIgwACwsgIUEBaiEhDAALCyAgIR8MAAsLIB5BAWohHgwACwsLlggCD38MeyADIAZqIAdqIQogBCAIaiAJaiELIAtBBGwhDSAKIA1sIQwgBUEEbCESQQAhEAJAA0AgECACTg0BQQAhEQJAA0AgESAFTg0BIAEgECAFbCARaiAMbGohDyAPIRggDyAGIA1saiEUAkADQCAYQRBqIBRLDQEgGP0MAAAAAAAAAAAAAAAAAAAAAP0LAgAgGEEQaiEYDAALCwJAA0AgGCAUTw0BIBhDAAAAADgCACAYQQRqIRgMAAsLIA8gBiADaiANbGohGCAPIAYgA2ogDWxqIAcgDWxqIRQCQANAIBhBEGogFEsNASAY/QwAAAAAAAAAAAAAAAAAAAAA/QsCACAYQRBqIRgMAAsLAkADQCAYIBRPDQEgGEMAAAAAOAIAIBhBBGohGAwACwsgEUEBaiERDAALC0EAIRUCQANAIBUgA04NASAAIBAgA2wgFWogBCASbGxqIRZBACERAkADQCARIAVODQEgASAQIAVsIBFqIAxsIBUgBmogDWxqaiEXIBdBAGohGEEAIRQCQANAIBQgCE4NASAYQwAAAAA4AgAgGCAMakMAAAAAOAIAIBggDEECbGpDAAAAADgCACAYIAxBA2xqQwAAAAA4AgAgGEEEaiEYIBRBAWohFAwACwsgFyAIIARqQQRsaiEYQQAhFAJAA0AgFCAJTg0BIBhDAAAAADgCACAYIAxqQwAAAAA4AgAgGCAMQQJsakMAAAAAOAIAIBggDEEDbGpDAAAAADgCACAYQQRqIRggFEEBaiEUDAALCyAWIBFBBGxqIQ4gFyAIQQRsaiEPQQAhEwJAA0AgE0EEaiAESg0BIA79AAIAIRkgDiASav0AAgAhGiAOIBJBAmxq/QACACEbIA4gEkEDbGr9AAIAIRwgGSAa/Q0AAQIDEBESEwQFBgcUFRYXIR0gGyAc/Q0AAQIDEBESEwQFBgcUFRYXIR4gGSAa/Q0ICQoLGBkaGwwNDg8cHR4fIR8gGyAc/Q0ICQoLGBkaGwwNDg8cHR4fISAgHSAe/Q0AAQIDBAUGBxAREhMUFRYXISEgHSAe/Q0ICQoLDA0ODxgZGhscHR4fISIgHyAg/Q0AAQIDBAUGBxAREhMUFRYXISMgHyAg/Q0ICQoLDA0ODxgZGhscHR4fISQgDyAh/QsCACAPIAxqICL9CwIAIA8gDEECbGogI/0LAgAgDyAMQQNsaiAk/QsCACAOIBJBBGxqIQ4gD0EQaiEPIBNBBGohEwwACwsCQANAIBMgBE4NAUEAIRQDQCAPIBQgDGxqIA4gFEEEbGoqAgA4AgAgFEEBaiEUIBRBBEgNAAsgDiASaiEOIA9BBGohDyATQQFqIRMMAAsLIBFBBGohEQwACwsgFUEBaiEVDAALCyAQQQFqIRAMAAsLC7AOAhx/E3sgBiAKbiERIAQgBWxBBGwhEiAFQQRsIRMgDyAFbEEEbCEoIBBBBGwhKSAJQQRsIRQgC0ECdiEWIAwgDWwgCmxBEGwhFUEAIRcCQANAIBcgA04NAUEAIRoCQANAIBogB04NAUEAIRgCQANAIBggEU4NASAAIBcgBmwgGCAKbGogEmwgGiAObCATbGpqIR9BACEZAkADQCAZIBZODQEgASAYIBZsIBlqIBVsaiEdIAIgFyAHbCAaaiAIbCAUbGogGCALbCAZQQRsakEEbGohIEEAIRsCQANAIBtBCGogCEoNAf0MAAAAAAAAAAAAAAAAAAAAACEt/QwAAAAAAAAAAAAAAAAAAAAAIS79DAAAAAAAAAAAAAAAAAAAAAAhL/0MAAAAAAAAAAAAAAAAAAAAACEw/QwAAAAAAAAAAAAAAAAAAAAAITH9DAAAAAAAAAAAAAAAAAAAAAAhMv0MAAAAAAAAAAAAAAAAAAAAACEz/QwAAAAAAAAAAAAAAAAAAAAAITQgHSEkIB8gG0EEbGohIUEAISUDQCAhICUgKGxqISJBACEmA0AgIiEjICQgCkEQbGohLANAICP9AAIAITUgI/0AAhAhNiAk/QkCACE3IC0gNSA3/eYB/eQBIS0gMSA2IDf95gH95AEhMSAk/QkCBCE3IC4gNSA3/eYB/eQBIS4gMiA2IDf95gH95AEhMiAk/QkCCCE3IC8gNSA3/eYB/eQBIS8gMyA2IDf95gH95AEhMyAk/QkCDCE3IDAgNSA3/eYB/eQBITAgNCA2IDf95gH95AEhNCAkQRBqISQgIyASaiEjICQgLEkNAAsgIiApaiEiICZBAWohJiAmIA1IDQALICVBAWohJSAlIAxIDQALICAgGyAUbGohKiAtIC79DQABAgMQERITBAUGBxQVFhchOCAvIDD9DQABAgMQERITBAUGBxQVFhchOSAtIC79DQgJCgsYGRobDA0ODxwdHh8hOiAvIDD9DQgJCgsYGRobDA0ODxwdHh8hOyA4IDn9DQABAgMEBQYHEBESExQVFhchPCA4IDn9DQgJCgsMDQ4PGBkaGxwdHh8hPSA6IDv9DQABAgMEBQYHEBESExQVFhchPiA6IDv9DQgJCgsMDQ4PGBkaGxwdHh8hPyAqIDz9CwIAICogFGohKiAqID39CwIAICogFGohKiAqID79CwIAICogFGohKiAqID/9CwIAICogFGohKiAxIDL9DQABAgMQERITBAUGBxQVFhchOCAzIDT9DQABAgMQERITBAUGBxQVFhchOSAxIDL9DQgJCgsYGRobDA0ODxwdHh8hOiAzIDT9DQgJCgsYGRobDA0ODxwdHh8hOyA4IDn9DQABAgMEBQYHEBESExQVFhchPCA4IDn9DQgJCgsMDQ4PGBkaGxwdHh8hPSA6IDv9DQABAgMEBQYHEBESExQVFhchPiA6IDv9DQgJCgsMDQ4PGBkaGxwdHh8hPyAqIDz9CwIAICogFGohKiAqID39CwIAICogFGohKiAqID79CwIAICogFGohKiAqID/9CwIAICogFGohKiAbQQhqIRsMAAsLAkADQCAbIAhODQEgCCAbayEr/QwAAAAAAAAAAAAAAAAAAAAAIS39DAAAAAAAAAAAAAAAAAAAAAAhLv0MAAAAAAAAAAAAAAAAAAAAACEv/QwAAAAAAAAAAAAAAAAAAAAAITAgHSEkIB8gG0EEbGohIUEAISUDQCAhICUgKGxqISJBACEmA0AgIiEjICQgCkEQbGohLANAICP9AAIAITUgJP0JAgAhNyAtIDUgN/3mAf3kASEtICT9CQIEITcgLiA1IDf95gH95AEhLiAk/QkCCCE3IC8gNSA3/eYB/eQBIS8gJP0JAgwhNyAwIDUgN/3mAf3kASEwICRBEGohJCAjIBJqISMgJCAsSQ0ACyAiIClqISIgJkEBaiEmICYgDUgNAAsgJUEBaiElICUgDEgNAAsgICAbIBRsaiEqIC0gLv0NAAECAxAREhMEBQYHFBUWFyE4IC8gMP0NAAECAxAREhMEBQYHFBUWFyE5IC0gLv0NCAkKCxgZGhsMDQ4PHB0eHyE6IC8gMP0NCAkKCxgZGhsMDQ4PHB0eHyE7IDggOf0NAAECAwQFBgcQERITFBUWFyE8IDggOf0NCAkKCwwNDg8YGRobHB0eHyE9IDogO/0NAAECAwQFBgcQERITFBUWFyE+IDogO/0NCAkKCwwNDg8YGRobHB0eHyE/ICtBAEoEQCAqIDz9CwIAICogFGohKgsgK0EBSgRAICogPf0LAgAgKiAUaiEqCyArQQJKBEAgKiA+/QsCACAqIBRqISoLICtBA0oEQCAqID/9CwIAICogFGohKgsgG0EEaiEbDAALCyAZQQFqIRkMAAsLIBhBAWohGAwACwsgGkEBaiEaDAALCyAXQQFqIRcMAAsLC4EmAiB/EXsgBiAKbiETIAZBBGwhFCAFIBRsIRUgBCAVbCEWIA8gFGwhFyAJQQRsIRggCUEEbCEZIBEgFGwhLyAKIBlsITAgAkEAIAwgDWwgCmwgGWz8CwAgByAIbEUEQA8LQQAhGgJAA0AgGiADTg0BQQAhGwJAA0AgGyAHTg0BIBsgEmohHCAcIAdKBEAgByEcC0EAIR0CQANAIB0gE04NAUEAIR4CQANAIB4gC04NASALIB5rIR8gASAaIAcgCGxsIBhsaiAdIAtsIB5qQQRsaiEtQQAhIQNAQQAhIgNAIAAgGiAWbGogISAQbCAVbGogIiARbCAUbCAdIApsQQRsamohLkEAISMgIkEDaiANTCAKQQNxRSAKQQhOcXEEQANAIC4gI0EEbGohJSACICEgDWwgImogCmwgI2ogGWwgHSALbCAeakEEbGpqISYgH0EETgR7ICYgMEEAbCAZQQBsamr9AAIABSAfQQFGBHsgJiAwQQBsIBlBAGxqav1cAgAFIB9BAkYEeyAmIDBBAGwgGUEAbGpq/V0CAAUgJiAwQQBsIBlBAGxqav1dAgAgJiAwQQBsIBlBAGxqaioCCP0gAgsLCyE4IB9BBE4EeyAmIDBBAGwgGUEBbGpq/QACAAUgH0EBRgR7ICYgMEEAbCAZQQFsamr9XAIABSAfQQJGBHsgJiAwQQBsIBlBAWxqav1dAgAFICYgMEEAbCAZQQFsamr9XQIAICYgMEEAbCAZQQFsamoqAgj9IAILCwshOSAfQQROBHsgJiAwQQBsIBlBAmxqav0AAgAFIB9BAUYEeyAmIDBBAGwgGUECbGpq/VwCAAUgH0ECRgR7ICYgMEEAbCAZQQJsamr9XQIABSAmIDBBAGwgGUECbGpq/V0CACAmIDBBAGwgGUECbGpqKgII/SACCwsLITogH0EETgR7ICYgMEEAbCAZQQNsamr9AAIABSAfQQFGBHsgJiAwQQBsIBlBA2xqav1cAgAFIB9BAkYEeyAmIDBBAGwgGUEDbGpq/V0CAAUgJiAwQQBsIBlBA2xqav1dAgAgJiAwQQBsIBlBA2xqaioCCP0gAgsLCyE7IB9BBE4EeyAmIDBBAWwgGUEAbGpq/QACAAUgH0EBRgR7ICYgMEEBbCAZQQBsamr9XAIABSAfQQJGBHsgJiAwQQFsIBlBAGxqav1dAgAFICYgMEEBbCAZQQBsamr9XQIAICYgMEEBbCAZQQBsamoqAgj9IAILCwshPCAfQQROBHsgJiAwQQFsIBlBAWxqav0AAgAFIB9BAUYEeyAmIDBBAWwgGUEBbGpq/VwCAAUgH0ECRgR7ICYgMEEBbCAZQQFsamr9XQIABSAmIDBBAWwgGUEBbGpq/V0CACAmIDBBAWwgGUEBbGpqKgII/SACCwsLIT0gH0EETgR7ICYgMEEBbCAZQQJsamr9AAIABSAfQQFGBHsgJiAwQQFsIBlBAmxqav1cAgAFIB9BAkYEeyAmIDBBAWwgGUECbGpq/V0CAAUgJiAwQQFsIBlBAmxqav1dAgAgJiAwQQFsIBlBAmxqaioCCP0gAgsLCyE+IB9BBE4EeyAmIDBBAWwgGUEDbGpq/QACAAUgH0EBRgR7ICYgMEEBbCAZQQNsamr9XAIABSAfQQJGBHsgJiAwQQFsIBlBA2xqav1dAgAFICYgMEEBbCAZQQNsamr9XQIAICYgMEEBbCAZQQNsamoqAgj9IAILCwshPyAfQQROBHsgJiAwQQJsIBlBAGxqav0AAgAFIB9BAUYEeyAmIDBBAmwgGUEAbGpq/VwCAAUgH0ECRgR7ICYgMEECbCAZQQBsamr9XQIABSAmIDBBAmwgGUEAbGpq/V0CACAmIDBBAmwgGUEAbGpqKgII/SACCwsLIUAgH0EETgR7ICYgMEECbCAZQQFsamr9AAIABSAfQQFGBHsgJiAwQQJsIBlBAWxqav1cAgAFIB9BAkYEeyAmIDBBAmwgGUEBbGpq/V0CAAUgJiAwQQJsIBlBAWxqav1dAgAgJiAwQQJsIBlBAWxqaioCCP0gAgsLCyFBIB9BBE4EeyAmIDBBAmwgGUECbGpq/QACAAUgH0EBRgR7ICYgMEECbCAZQQJsamr9XAIABSAfQQJGBHsgJiAwQQJsIBlBAmxqav1dAgAFICYgMEECbCAZQQJsamr9XQIAICYgMEECbCAZQQJsamoqAgj9IAILCwshQiAfQQROBHsgJiAwQQJsIBlBA2xqav0AAgAFIB9BAUYEeyAmIDBBAmwgGUEDbGpq/VwCAAUgH0ECRgR7ICYgMEECbCAZQQNsamr9XQIABSAmIDBBAmwgGUEDbGpq/V0CACAmIDBBAmwgGUEDbGpqKgII/SACCwsLIUMgGyEnA0AgJSAnIA5sIBVsaiEqICogL2ohMSAxIC9qITIgLSAnIAggGGxsaiErICsgCCAYbGohLANAIB9BBE4EeyAr/QACAAUgH0EBRgR7ICv9XAIABSAfQQJGBHsgK/1dAgAFICv9XQIAICsqAgj9IAILCwshNyA4ICr9CQIAIDf95gH95AEhOCA5ICr9CQIEIDf95gH95AEhOSA6ICr9CQIIIDf95gH95AEhOiA7ICr9CQIMIDf95gH95AEhOyA8IDH9CQIAIDf95gH95AEhPCA9IDH9CQIEIDf95gH95AEhPSA+IDH9CQIIIDf95gH95AEhPiA/IDH9CQIMIDf95gH95AEhPyBAIDL9CQIAIDf95gH95AEhQCBBIDL9CQIEIDf95gH95AEhQSBCIDL9CQIIIDf95gH95AEhQiBDIDL9CQIMIDf95gH95AEhQyAqIBdqISogMSAXaiExIDIgF2ohMiArIBhqISsgKyAsSQ0ACyAnQQFqIScgJyAcSA0ACyAfQQROBEAgJiAwQQBsIBlBAGxqaiA4/QsCAAUgJiAwQQBsIBlBAGxqaiA4/R8AOAIAIB9BAUoEQCAmIDBBAGwgGUEAbGpqIDj9HwE4AgQLIB9BAkoEQCAmIDBBAGwgGUEAbGpqIDj9HwI4AggLCyAfQQROBEAgJiAwQQBsIBlBAWxqaiA5/QsCAAUgJiAwQQBsIBlBAWxqaiA5/R8AOAIAIB9BAUoEQCAmIDBBAGwgGUEBbGpqIDn9HwE4AgQLIB9BAkoEQCAmIDBBAGwgGUEBbGpqIDn9HwI4AggLCyAfQQROBEAgJiAwQQBsIBlBAmxqaiA6/QsCAAUgJiAwQQBsIBlBAmxqaiA6/R8AOAIAIB9BAUoEQCAmIDBBAGwgGUECbGpqIDr9HwE4AgQLIB9BAkoEQCAmIDBBAGwgGUECbGpqIDr9HwI4AggLCyAfQQROBEAgJiAwQQBsIBlBA2xqaiA7/QsCAAUgJiAwQQBsIBlBA2xqaiA7/R8AOAIAIB9BAUoEQCAmIDBBAGwgGUEDbGpqIDv9HwE4AgQLIB9BAkoEQCAmIDBBAGwgGUEDbGpqIDv9HwI4AggLCyAfQQROBEAgJiAwQQFsIBlBAGxqaiA8/QsCAAUgJiAwQQFsIBlBAGxqaiA8/R8AOAIAIB9BAUoEQCAmIDBBAWwgGUEAbGpqIDz9HwE4AgQLIB9BAkoEQCAmIDBBAWwgGUEAbGpqIDz9HwI4AggLCyAfQQROBEAgJiAwQQFsIBlBAWxqaiA9/QsCAAUgJiAwQQFsIBlBAWxqaiA9/R8AOAIAIB9BAUoEQCAmIDBBAWwgGUEBbGpqID39HwE4AgQLIB9BAkoEQCAmIDBBAWwgGUEBbGpqID39HwI4AggLCyAfQQROBEAgJiAwQQFsIBlBAmxqaiA+/QsCAAUgJiAwQQFsIBlBAmxqaiA+/R8AOAIAIB9BAUoEQCAmIDBBAWwgGUECbGpqID79HwE4AgQLIB9BAkoEQCAmIDBBAWwgGUECbGpqID79HwI4AggLCyAfQQROBEAgJiAwQQFsIBlBA2xqaiA//QsCAAUgJiAwQQFsIBlBA2xqaiA//R8AOAIAIB9BAUoEQCAmIDBBAWwgGUEDbGpqID/9HwE4AgQLIB9BAkoEQCAmIDBBAWwgGUEDbGpqID/9HwI4AggLCyAfQQROBEAgJiAwQQJsIBlBAGxqaiBA/QsCAAUgJiAwQQJsIBlBAGxqaiBA/R8AOAIAIB9BAUoEQCAmIDBBAmwgGUEAbGpqIED9HwE4AgQLIB9BAkoEQCAmIDBBAmwgGUEAbGpqIED9HwI4AggLCyAfQQROBEAgJiAwQQJsIBlBAWxqaiBB/QsCAAUgJiAwQQJsIBlBAWxqaiBB/R8AOAIAIB9BAUoEQCAmIDBBAmwgGUEBbGpqIEH9HwE4AgQLIB9BAkoEQCAmIDBBAmwgGUEBbGpqIEH9HwI4AggLCyAfQQROBEAgJiAwQQJsIBlBAmxqaiBC/QsCAAUgJiAwQQJsIBlBAmxqaiBC/R8AOAIAIB9BAUoEQCAmIDBBAmwgGUECbGpqIEL9HwE4AgQLIB9BAkoEQCAmIDBBAmwgGUECbGpqIEL9HwI4AggLCyAfQQROBEAgJiAwQQJsIBlBA2xqaiBD/QsCAAUgJiAwQQJsIBlBA2xqaiBD/R8AOAIAIB9BAUoEQCAmIDBBAmwgGUEDbGpqIEP9HwE4AgQLIB9BAkoEQCAmIDBBAmwgGUEDbGpqIEP9HwI4AggLCyAjQQRqISMgIyAKSA0ACyAiQQJqISIgCiEjCwJAA0AgI0EEaiAKSg0BIC4gI0EEbGohJSACICEgDWwgImogCmwgI2ogGWwgHSALbCAeakEEbGpqISYgH0EETgR7ICb9AAIABSAfQQFGBHsgJv1cAgAFIB9BAkYEeyAm/V0CAAUgJv1dAgAgJioCCP0gAgsLCyEzIB9BBE4EeyAmIBlq/QACAAUgH0EBRgR7ICYgGWr9XAIABSAfQQJGBHsgJiAZav1dAgAFICYgGWr9XQIAICYgGWoqAgj9IAILCwshNCAfQQROBHsgJiAZQQJsav0AAgAFIB9BAUYEeyAmIBlBAmxq/VwCAAUgH0ECRgR7ICYgGUECbGr9XQIABSAmIBlBAmxq/V0CACAmIBlBAmxqKgII/SACCwsLITUgH0EETgR7ICYgGUEDbGr9AAIABSAfQQFGBHsgJiAZQQNsav1cAgAFIB9BAkYEeyAmIBlBA2xq/V0CAAUgJiAZQQNsav1dAgAgJiAZQQNsaioCCP0gAgsLCyE2IBshJwNAICUgJyAObCAVbGohKiAtICcgCCAYbGxqISsgKyAIIBhsaiEsA0AgH0EETgR7ICv9AAIABSAfQQFGBHsgK/1cAgAFIB9BAkYEeyAr/V0CAAUgK/1dAgAgKyoCCP0gAgsLCyE3IDMgKv0JAgAgN/3mAf3kASEzIDQgKv0JAgQgN/3mAf3kASE0IDUgKv0JAgggN/3mAf3kASE1IDYgKv0JAgwgN/3mAf3kASE2ICogF2ohKiArIBhqISsgKyAsSQ0ACyAnQQFqIScgJyAcSA0ACyAfQQROBEAgJiAz/QsCAAUgJiAz/R8AOAIAIB9BAUoEQCAmIDP9HwE4AgQLIB9BAkoEQCAmIDP9HwI4AggLCyAfQQROBEAgJiAZaiA0/QsCAAUgJiAZaiA0/R8AOAIAIB9BAUoEQCAmIBlqIDT9HwE4AgQLIB9BAkoEQCAmIBlqIDT9HwI4AggLCyAfQQROBEAgJiAZQQJsaiA1/QsCAAUgJiAZQQJsaiA1/R8AOAIAIB9BAUoEQCAmIBlBAmxqIDX9HwE4AgQLIB9BAkoEQCAmIBlBAmxqIDX9HwI4AggLCyAfQQROBEAgJiAZQQNsaiA2/QsCAAUgJiAZQQNsaiA2/R8AOAIAIB9BAUoEQCAmIBlBA2xqIDb9HwE4AgQLIB9BAkoEQCAmIBlBA2xqIDb9HwI4AggLCyAjQQRqISMMAAsLAkADQCAjIApODQEgLiAjQQRsaiElIAIgISANbCAiaiAKbCAjaiAZbCAdIAtsIB5qQQRsamohJiAfQQROBHsgJv0AAgAFIB9BAUYEeyAm/VwCAAUgH0ECRgR7ICb9XQIABSAm/V0CACAmKgII/SACCwsLITMgGyEnA0AgJSAnIA5sIBVsaiEqIC0gJyAIIBhsbGohKyArIAggGGxqISwDQCAfQQROBHsgK/0AAgAFIB9BAUYEeyAr/VwCAAUgH0ECRgR7ICv9XQIABSAr/V0CACArKgII/SACCwsLITcgMyAq/QkCACA3/eYB/eQBITMgKiAXaiEqICsgGGohKyArICxJDQALICdBAWohJyAnIBxIDQALIB9BBE4EQCAmIDP9CwIABSAmIDP9HwA4AgAgH0EBSgRAICYgM/0fATgCBAsgH0ECSgRAICYgM/0fAjgCCAsLICNBAWohIwwACwsgIkEBaiEiICIgDUgNAAsgIUEBaiEhICEgDEgNAAsgHkEEaiEeDAALCyAdQQFqIR0MAAsLIBwhGwwACwsgGkEBaiEaDAALCwvDCAIafw97IAYgCm4hEiAFQQRsIRUgBCAVbCETIAcgCGxBBGwhFCAUQQJsIScgFEEDbCEoIAlBEGwhHyAMIA1sIApsIAlsISsgAkEAICtBEGz8CwBBACEWAkADQCAWIANODQFBACEXAkADQCAXIAdODQEgFyARaiEYIBggB0oEQCAHIRgLQQAhGQJAA0AgGSASTg0BQQAhGgJAA0AgGiALTg0BIAEgFiAJbCAZIAtsIBpqaiAUbGohIUEAIRsDQEEAIRwDQEEAIR0DQCACIBsgDWwgHGogCmwgHWogH2wgGSALbCAaakEQbGpqIR4gHv0AAgAhLCAe/QACECEtIB79AAIgIS4gHv0AAjAhLyAeIB9q/QACACEwIB4gH2r9AAIQITEgHiAfav0AAiAhMiAeIB9q/QACMCEzIAAgFiAGbCAZIApsIB1qaiATbCAbIA9sIBVsIBwgEGxBBGxqamohICAXISIDQCAgICIgDmwgFWxqISMgIyATaiEkICEgIiAIbEEEbGohJSAlIAhBfHFBBGxqISYCQANAICUgJk8NASAj/QACACE0ICT9AAIAITUgJf0AAgAhNiAlIBRq/QACACE3ICUgJ2r9AAIAITggJSAoav0AAgAhOSAsIDQgNv3mAf3kASEsIC0gNCA3/eYB/eQBIS0gLiA0IDj95gH95AEhLiAvIDQgOf3mAf3kASEvIDAgNSA2/eYB/eQBITAgMSA1IDf95gH95AEhMSAyIDUgOP3mAf3kASEyIDMgNSA5/eYB/eQBITMgI0EQaiEjICRBEGohJCAlQRBqISUMAAsLIAhBA3EhKSApBEAgKf0R/QwAAAAAAQAAAAIAAAADAAAA/TshOiAj/QACACA6/U4hNCAk/QACACA6/U4hNSAl/QACACA6/U4hNiAlIBRq/QACACA6/U4hNyAlICdq/QACACA6/U4hOCAlIChq/QACACA6/U4hOSAsIDQgNv3mAf3kASEsIC0gNCA3/eYB/eQBIS0gLiA0IDj95gH95AEhLiAvIDQgOf3mAf3kASEvIDAgNSA2/eYB/eQBITAgMSA1IDf95gH95AEhMSAyIDUgOP3mAf3kASEyIDMgNSA5/eYB/eQBITMLICJBAWohIiAiIBhIDQALIB4gLP0LAgAgHiAt/QsCECAeIC79CwIgIB4gL/0LAjAgHiAfaiAw/QsCACAeIB9qIDH9CwIQIB4gH2ogMv0LAiAgHiAfaiAz/QsCMCAdQQJqIR0gHSAKSA0ACyAcQQFqIRwgHCANSA0ACyAbQQFqIRsgGyAMSA0ACyAaQQRqIRoMAAsLIBlBAWohGQwACwsgGCEXDAALCyAWQQFqIRYMAAsLQQAhKgJAA0AgKiArTg0BIAIgKkEQbGr9AAIAITQgAiAqQQRsaiA0/R8AIDT9HwGSIDT9HwIgNP0fA5KSOAIAICpBAWohKgwACwsL';

/** The part of the WebAssembly JS API used here (the project's TypeScript lib has no DOM/WebAssembly types). */
interface WasmMemory {
  /** An ArrayBuffer, or a SharedArrayBuffer for the threaded build's shared memory. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface GroupedConvExports {
  conv(...args: number[]): void;
  packPlanar(...args: number[]): void;
  convPlanarP2(...args: number[]): void;
  filterGradPlanar(...args: number[]): void;
  filterGrad(...args: number[]): void;
}

let compiled: object | null = null;
let compiledShared: object | null = null;
const instances = new WeakMap<WasmMemory, GroupedConvExports>();

/** Encode `n` as unsigned LEB128 (the wasm binary format's integer encoding). */
function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/**
 * The same module with its memory import declared shared (limits flag 0x03, min 1, max 65536 pages), as the
 * threaded tfjs-backend-wasm build's memory is: a non-shared import cannot link to a shared memory (WebAssembly
 * threads proposal, "Memory type" matching). Only the import section changes; code and offsets stay the same, so
 * the kernels address the shared heap exactly as they address the single-thread one.
 */
export function sharedMemoryVariant(bytes: Uint8Array): Uint8Array {
  const importOld = [0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01]; // "env" "memory" memory {min 1}
  const limitsShared = [0x03, 0x01, ...leb128(65536)];
  const out: number[] = Array.from(bytes.subarray(0, 8)); // magic and version
  let p = 8;
  let patched = false;
  while (p < bytes.length) {
    const id = bytes[p++];
    let size = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++];
      size |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    let payload = Array.from(bytes.subarray(p, p + size));
    p += size;
    if (id === 2) {
      const at = payload.findIndex((_, k) => importOld.every((v, m) => payload[k + m] === v));
      if (at < 0) throw new Error('grouped_conv2d: memory import { min 1 } not found in the module');
      payload = [...payload.slice(0, at + importOld.length - 2), ...limitsShared, ...payload.slice(at + importOld.length)];
      patched = true;
    }
    out.push(id, ...leb128(payload.length), ...payload);
  }
  if (!patched) throw new Error('grouped_conv2d: no import section in the module');
  return Uint8Array.from(out);
}

function instanceFor(memory: WasmMemory): GroupedConvExports {
  let inst = instances.get(memory);
  if (inst == null) {
    const bytes = Buffer.from(WASM_BASE64, 'base64');
    const isShared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const module = isShared
      ? (compiledShared ??= new WASM.Module(sharedMemoryVariant(bytes)))
      : (compiled ??= new WASM.Module(bytes));
    inst = new WASM.Instance(module, { env: { memory } }).exports as unknown as GroupedConvExports;
    instances.set(memory, inst);
  }
  return inst;
}

/** What this file uses of tfjs-backend-wasm's backend object. */
interface WasmBackendLike {
  /** `asm.memory` is the single-thread builds' exported memory; the threaded build imports `wasmMemory` instead. */
  wasm: { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

function wasmBackend(): WasmBackendLike | null {
  const b = tf.backend() as unknown as Partial<WasmBackendLike>;
  return tf.getBackend() === 'wasm' && heapMemory(b) != null && b.dataIdMap != null ? (b as WasmBackendLike) : null;
}

/** The wasm backend's heap: exported by the single-thread builds, imported (shared) by the threaded one. */
function heapMemory(b: Partial<WasmBackendLike>): WasmMemory | undefined {
  return b.wasm?.asm?.memory ?? b.wasm?.wasmMemory;
}

/**
 * Where the kernels run on the current backend: in place on the wasm backend's heap (`shared` on the threaded
 * build, whose memory is a SharedArrayBuffer), or on a private memory with copies (any other backend).
 */
export function groupedConvMemory(): 'wasm heap' | 'wasm heap (shared)' | 'private copy' {
  const backend = wasmBackend();
  if (backend == null) return 'private copy';
  const buf = heapMemory(backend)!.buffer;
  return typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer ? 'wasm heap (shared)' : 'wasm heap';
}

let privateMemory: WasmMemory | null = null;

/**
 * Run `call` with byte offsets of the inputs and of a float32 output of `outShape`: in place on the wasm heap, or
 * on a private memory holding copies.
 */
function runKernel(
  inputs: tf.Tensor[],
  outShape: number[],
  call: (k: GroupedConvExports, inOffsets: number[], outOffset: number) => void,
): tf.Tensor {
  const backend = wasmBackend();
  if (backend != null) {
    const k = instanceFor(heapMemory(backend)!);
    const offsets = inputs.map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
    const out = backend.makeOutput(outShape, 'float32');
    call(k, offsets, backend.dataIdMap.get(out.dataId).memoryOffset);
    return tf.engine().makeTensorFromTensorInfo(out);
  }
  const sizes = [...inputs.map((t) => t.size), outShape.reduce((a, b) => a * b, 1)];
  const offsets: number[] = [];
  let end = 0;
  for (const s of sizes) {
    offsets.push(end);
    end += Math.ceil((s * 4 + 16) / 16) * 16;
  }
  privateMemory ??= new WASM.Memory({ initial: 1 });
  const needPages = Math.ceil(end / 65536) - privateMemory.buffer.byteLength / 65536;
  if (needPages > 0) privateMemory.grow(needPages);
  const heap = new Float32Array(privateMemory.buffer);
  inputs.forEach((t, i) => heap.set(t.dataSync() as Float32Array, offsets[i] / 4));
  call(instanceFor(privateMemory), offsets.slice(0, -1), offsets[offsets.length - 1]);
  const o = offsets[offsets.length - 1] / 4;
  return tf.tensor(heap.slice(o, o + sizes[sizes.length - 1]), outShape, 'float32');
}

/**
 * Forward grouped convolution with zero padding: y[n, oy, ox, g*Cog + co] = sum over ky, kx, ci of
 * xPadded[n, oy*sh + ky*dh, ox*sw + kx*dw, g*Cg + ci] * w[ky, kx, ci, g*Cog + co], where xPadded is x with `pads`
 * zero rows/columns added (on the stride-1 path the padding is written by the kernel's input repack, no padded
 * copy is made).
 *
 * @param x [N, H, W, Cin] float32, NHWC.
 * @param w [kh, kw, Cin/groups, Cout] float32, HWIO grouped filter (torch's [Cout, Cin/groups, kh, kw] transposed).
 * @param g strides and dilations (g.pads are ignored: padding is `pads`).
 * @param groups number of groups G; Cin and Cout are multiples of it.
 * @param pads [top, bottom, left, right] zero padding in pixels, each >= 0. Default none.
 * @returns [N, Ho, Wo, Cout] float32, Ho = floor((H + top + bottom - dh*(kh-1) - 1)/sh) + 1 (Wo likewise); new
 *   tensor owned by the caller. Not recorded for gradients.
 * @throws Error when w's shape does not match x and groups, or a pad is negative.
 */
export function groupedConv2dPadded(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  g: ConvGeometry,
  groups: number,
  pads: [number, number, number, number] = [0, 0, 0, 0],
): tf.Tensor4D {
  const [n, h, wi, cin] = x.shape;
  const [kh, kw, cinG, cout] = w.shape;
  if (cinG * groups !== cin || cout % groups !== 0) {
    throw new Error(`groupedConv2dPadded: w [${w.shape}] does not match x [${x.shape}] with groups=${groups}`);
  }
  const [pt, pb, pl, pr] = pads;
  if (Math.min(pt, pb, pl, pr) < 0) throw new Error(`groupedConv2dPadded: pads must be >= 0, got [${pads}]`);
  const hp = h + pt + pb;
  const wp = wi + pl + pr;
  const cog = cout / groups;
  const cog4 = 4 * Math.ceil(cog / 4);
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const ho = Math.floor((hp - dh * (kh - 1) - 1) / sh) + 1;
  const wo = Math.floor((wp - dw * (kw - 1) - 1) / sw) + 1;
  if (cin % 4 === 0 && cog % 4 === 0 && sw === 1) {
    // Bands of output rows: the input rows a band reads are repacked planar and zero-padded ([Cin, rows, Wp] plus
    // 16 bytes of slack read past the last row) into a scratch of ~256 KB that stays in cache, then convolved 8
    // pixels x 4 output channels at a time with pixels in lanes.
    const rowsFit = Math.floor(65536 / (cin * wp));
    const bandRows = Math.min(ho, Math.max(1, Math.floor((rowsFit - (kh - 1) * dh - 1) / sh) + 1));
    const maxRows = (bandRows - 1) * sh + (kh - 1) * dh + 1;
    const scratch = tf.zeros([cin * maxRows * wp + 4]);
    const wBlocked = packGroupedFilter(w, groups, 4);
    try {
      return runKernel([x, wBlocked, scratch], [n, ho, wo, cout], (k, [xo, wOff, so], yo) => {
        for (let b = 0; b < n; b++) {
          for (let oy0 = 0; oy0 < ho; oy0 += bandRows) {
            const oy1 = Math.min(ho, oy0 + bandRows);
            const r0 = oy0 * sh; // first padded input row of the band
            const rows = (oy1 - 1 - oy0) * sh + (kh - 1) * dh + 1;
            const top = Math.min(rows, Math.max(0, pt - r0));
            const iy0 = Math.max(0, r0 - pt);
            const real = Math.max(0, Math.min(h, r0 + rows - pt) - iy0);
            k.packPlanar(xo + (b * h + iy0) * wi * cin * 4, so, 1, real, wi, cin, top, rows - top - real, pl, pr);
            k.convPlanarP2(so, wOff, yo + (b * ho + oy0) * wo * cout * 4, 1, rows, wp, cin, oy1 - oy0, wo, cout, cinG, cog,
              kh, kw, sh, dh, dw);
          }
        }
      }) as tf.Tensor4D;
    } finally {
      tf.dispose([scratch, wBlocked]);
    }
  }
  const padded = pt + pb + pl + pr > 0 ? tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) : x;
  // Tiles of output rows holding about 64 pixels.
  const tileRows = Math.max(1, Math.floor(64 / Math.max(1, wo)));
  const packed = packGroupedFilter(w, groups, 4);
  try {
    return runKernel([padded, packed], [n, ho, wo, cout], (k, [xo, wOff], yo) =>
      k.conv(xo, wOff, yo, n, hp, wp, cin, ho, wo, cout, cinG, cog, kh, kw, sh, sw, dh, dw, cog4, tileRows),
    ) as tf.Tensor4D;
  } finally {
    packed.dispose();
    if (padded !== x) padded.dispose();
  }
}

/**
 * HWIO grouped filter [kh, kw, Cg, G*Cog] packed per group and block of `cb` output channels (cb a multiple of 4):
 * [G*Cogp/cb, kh*kw*Cg, cb] with Cogp = cb*ceil(Cog/cb) (columns past Cog are zero), so that the kernel reads one
 * block's weights contiguously. New tensor owned by the caller.
 */
function packGroupedFilter(w: tf.Tensor4D, groups: number, cb: number): tf.Tensor3D {
  const [kh, kw, cinG, cout] = w.shape;
  const cog = cout / groups;
  const cogp = cb * Math.ceil(cog / cb);
  return tf.tidy(() => {
    let w3: tf.Tensor3D = tf.reshape(w, [kh * kw * cinG, groups, cog]);
    if (cogp !== cog) w3 = tf.pad(w3, [[0, 0], [0, 0], [0, cogp - cog]]);
    const blocks = tf.reshape(w3, [kh * kw * cinG, (groups * cogp) / cb, cb]);
    return tf.transpose(blocks, [1, 0, 2]) as tf.Tensor3D; // [G*Cogp/cb, kh*kw*Cg, cb]
  });
}

/** Planar zero-padded copy of NHWC x (Cin a multiple of 4): [N*Cin*(H+t+b)*(W+l+r) + 4] float32 ([N, Cin, Hp, Wp] and 16 bytes of slack). */
function packPlanar(x: tf.Tensor4D, [pt, pb, pl, pr]: [number, number, number, number]): tf.Tensor {
  const [n, h, w, c] = x.shape;
  return runKernel([x], [n * c * (h + pt + pb) * (w + pl + pr) + 4], (k, [xo], o) =>
    k.packPlanar(xo, o, n, h, w, c, pt, pb, pl, pr),
  );
}

/**
 * Filter gradient of a grouped convolution: dw[ky, kx, ci, g*Cog + co] = sum over n, oy, ox of
 * xPadded[n, oy*sh + ky*dh, ox*sw + kx*dw, g*Cg + ci] * dy[n, oy, ox, g*Cog + co], where xPadded is x with `pads`
 * zero rows/columns added (written by the kernel's input repack on the stride-1 path).
 *
 * @param x [N, H, W, Cin] float32, the forward input.
 * @param dy [N, Ho, Wo, Cout] float32, the output gradient.
 * @param filterShape [kh, kw, Cin/groups, Cout]. @param g strides and dilations (g.pads ignored: padding is `pads`).
 * @param pads [top, bottom, left, right] zero padding in pixels, each >= 0. Default none.
 * @returns [kh, kw, Cin/groups, Cout] float32, new tensor owned by the caller. Not recorded for gradients.
 * @throws Error when a pad is negative.
 */
export function groupedConv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  g: ConvGeometry,
  groups: number,
  pads: [number, number, number, number] = [0, 0, 0, 0],
): tf.Tensor4D {
  const [n, h, wi, cin] = x.shape;
  const [, ho, wo, cout] = dy.shape;
  const [kh, kw, cinG] = filterShape;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [pt, pb, pl, pr] = pads;
  if (Math.min(pt, pb, pl, pr) < 0) throw new Error(`groupedConv2dFilterGrad: pads must be >= 0, got [${pads}]`);
  const hp = h + pt + pb;
  const wp = wi + pl + pr;
  const cog = cout / groups;
  if (sw === 1 && cin % 4 === 0 && cinG >= 16 && cinG % 2 === 0 && cog % 4 === 0) {
    // Planar x and dy; lane partial sums over tiles of about 256 output pixels, summed by the kernel at the end.
    // Faster than the NHWC kernel from 16 channels per group (its pixels are then >= 2 KB apart in x and dy);
    // slower at 4-8, where the two repacks cost more than they save.
    const tileRows = Math.max(1, Math.floor(256 / Math.max(1, wo)));
    const size = kh * kw * cinG * cout;
    const xp = packPlanar(x, pads);
    const dyp = packPlanar(dy, [0, 0, 0, 0]);
    const acc = runKernel([xp, dyp], [size * 4], (k, [xo, dyo], ao) =>
      k.filterGradPlanar(xo, dyo, ao, n, hp, wp, cin, ho, wo, cout, cinG, cog, kh, kw, sh, dh, dw, tileRows),
    );
    tf.dispose([xp, dyp]);
    const dwOut = tf.tidy(() => tf.reshape(tf.slice(acc, 0, size), filterShape)) as tf.Tensor4D;
    acc.dispose();
    return dwOut;
  }
  const xPadded = pt + pb + pl + pr > 0 ? tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) : x;
  // Tiles of output rows holding at least ~64 pixels: a tile's x and dy rows stay in cache across all groups and taps.
  const tileRows = Math.max(1, Math.ceil(64 / Math.max(1, wo)));
  try {
    return runKernel([xPadded, dy], filterShape, (k, [xo, dyo], dwo) =>
      k.filterGrad(xo, dyo, dwo, n, hp, wp, cin, ho, wo, cout, cinG, cog, kh, kw, sh, sw, dh, dw, tileRows),
    ) as tf.Tensor4D;
  } finally {
    if (xPadded !== x) xPadded.dispose();
  }
}
