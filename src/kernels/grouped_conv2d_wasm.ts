/**
 * Grouped 2-D convolution kernels in WebAssembly SIMD128 (float32, NHWC): the forward convolution and the filter
 * gradient. tfjs-backend-wasm's XNNPACK entry points take groups = 1 (Conv2D) or groups = Cin (depthwise) only, so
 * a ResNeXt convolution (32 groups of 4..32 channels) has no fast path through tfjs ops; these kernels compute it
 * directly, 4 output channels (one f32x4) at a time.
 *
 * On the wasm backend the module imports the backend's own memory and reads/writes tensors in place (no copies);
 * on any other backend it runs on a private memory with the inputs copied in and the result copied out.
 *
 * Source: `grouped_conv2d.wat` next to this file (the module below is its `wat2wasm` output, base64).
 * Reference semantics: PyTorch `torch.nn.functional.conv2d` with groups (`aten/src/ATen/native/Convolution.cpp`).
 */
import * as tf from '@tensorflow/tfjs';
import type { ConvGeometry } from '../ops/conv';

const WASM_BASE64 =
  'AGFzbQEAAAABZAVgFH9/f39/f39/f39/f39/f39/f39/AGAKf39/f39/f39/fwBgEX9/f39/f39/f39/f39/f39/AGATf39/f39/f39/f39/f39/f39/fwBgEn9/f39/f39/f39/f39/f39/fwACDwEDZW52Bm1lbW9yeQIAAQMGBQABAgMEB0QFBGNvbnYAAApwYWNrUGxhbmFyAAEMY29udlBsYW5hclAyAAIKZmlsdGVyR3JhZAADEGZpbHRlckdyYWRQbGFuYXIABArLWQXlFQIvfwl7IAYgCm4hFCAGQQRsIRUgBSAVbCEWIAQgFmwhFyAPIBVsIRggESAVbCEZIBAgFmwhGiAOIBZsIAggGGxrIRsgCkEQbCFBIAwgDWwgCmxBEGwhHCAKQQNxRSFCIAlBBGwhHUEAIR4CQANAIB4gA04NAUEAIR8CQANAIB8gB04NASAfIBNqISAgICAHSgRAIAchIAsgICAfayAIbCEkQQAhIQJAA0AgISAUTg0BIAAgHiAXbGogHyAObCAWbGogISAKbEEEbGohJ0EAISICQANAICIgC04NASABICEgEkECdmwgIkECdmogHGxqISggAiAeIAdsIB9qIAhsIB1saiAhIAtsICJqQQRsaiEpIAsgImshKiAnISVBACEmQQAhIwJAA0AgI0EIaiAkSg0BICUhMSAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITIgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSEzICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhNCAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITUgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSE2ICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhNyAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITggJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQv9DAAAAAAAAAAAAAAAAAAAAAAhQ/0MAAAAAAAAAAAAAAAAAAAAACFE/QwAAAAAAAAAAAAAAAAAAAAAIUX9DAAAAAAAAAAAAAAAAAAAAAAhRv0MAAAAAAAAAAAAAAAAAAAAACFH/QwAAAAAAAAAAAAAAAAAAAAAIUj9DAAAAAAAAAAAAAAAAAAAAAAhSf0MAAAAAAAAAAAAAAAAAAAAACFKICghL0EAISsDQCArIBpsIS5BACEsA0AgLiAsIBlsaiEtIC8gQWohMCBCBEADQCAxIC1qITkgMiAtaiE6IDMgLWohOyA0IC1qITwgNSAtaiE9IDYgLWohPiA3IC1qIT8gOCAtaiFAIC/9AAIAIUsgQyA5/QkCACBL/eYB/eQBIUMgRCA6/QkCACBL/eYB/eQBIUQgRSA7/QkCACBL/eYB/eQBIUUgRiA8/QkCACBL/eYB/eQBIUYgRyA9/QkCACBL/eYB/eQBIUcgSCA+/QkCACBL/eYB/eQBIUggSSA//QkCACBL/eYB/eQBIUkgSiBA/QkCACBL/eYB/eQBIUogL/0AAhAhSyBDIDn9CQIEIEv95gH95AEhQyBEIDr9CQIEIEv95gH95AEhRCBFIDv9CQIEIEv95gH95AEhRSBGIDz9CQIEIEv95gH95AEhRiBHID39CQIEIEv95gH95AEhRyBIID79CQIEIEv95gH95AEhSCBJID/9CQIEIEv95gH95AEhSSBKIED9CQIEIEv95gH95AEhSiAv/QACICFLIEMgOf0JAgggS/3mAf3kASFDIEQgOv0JAgggS/3mAf3kASFEIEUgO/0JAgggS/3mAf3kASFFIEYgPP0JAgggS/3mAf3kASFGIEcgPf0JAgggS/3mAf3kASFHIEggPv0JAgggS/3mAf3kASFIIEkgP/0JAgggS/3mAf3kASFJIEogQP0JAgggS/3mAf3kASFKIC/9AAIwIUsgQyA5/QkCDCBL/eYB/eQBIUMgRCA6/QkCDCBL/eYB/eQBIUQgRSA7/QkCDCBL/eYB/eQBIUUgRiA8/QkCDCBL/eYB/eQBIUYgRyA9/QkCDCBL/eYB/eQBIUcgSCA+/QkCDCBL/eYB/eQBIUggSSA//QkCDCBL/eYB/eQBIUkgSiBA/QkCDCBL/eYB/eQBIUogLUEQaiEtIC9BwABqIS8gLyAwSQ0ACwUDQCAxIC1qITkgMiAtaiE6IDMgLWohOyA0IC1qITwgNSAtaiE9IDYgLWohPiA3IC1qIT8gOCAtaiFAIC/9AAIAIUsgQyA5/QkCACBL/eYB/eQBIUMgRCA6/QkCACBL/eYB/eQBIUQgRSA7/QkCACBL/eYB/eQBIUUgRiA8/QkCACBL/eYB/eQBIUYgRyA9/QkCACBL/eYB/eQBIUcgSCA+/QkCACBL/eYB/eQBIUggSSA//QkCACBL/eYB/eQBIUkgSiBA/QkCACBL/eYB/eQBIUogLUEEaiEtIC9BEGohLyAvIDBJDQALCyAsQQFqISwgLCANSA0ACyArQQFqISsgKyAMSA0ACyAqQQROBEAgKSBD/QsCAAUgKSBD/R8AOAIAICpBAUoEQCApIEP9HwE4AgQLICpBAkoEQCApIEP9HwI4AggLCyApIB1qISkgKkEETgRAICkgRP0LAgAFICkgRP0fADgCACAqQQFKBEAgKSBE/R8BOAIECyAqQQJKBEAgKSBE/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEX9CwIABSApIEX9HwA4AgAgKkEBSgRAICkgRf0fATgCBAsgKkECSgRAICkgRf0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBG/QsCAAUgKSBG/R8AOAIAICpBAUoEQCApIEb9HwE4AgQLICpBAkoEQCApIEb9HwI4AggLCyApIB1qISkgKkEETgRAICkgR/0LAgAFICkgR/0fADgCACAqQQFKBEAgKSBH/R8BOAIECyAqQQJKBEAgKSBH/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEj9CwIABSApIEj9HwA4AgAgKkEBSgRAICkgSP0fATgCBAsgKkECSgRAICkgSP0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBJ/QsCAAUgKSBJ/R8AOAIAICpBAUoEQCApIEn9HwE4AgQLICpBAkoEQCApIEn9HwI4AggLCyApIB1qISkgKkEETgRAICkgSv0LAgAFICkgSv0fADgCACAqQQFKBEAgKSBK/R8BOAIECyAqQQJKBEAgKSBK/R8COAIICwsgKSAdaiEpICNBCGohIwwACwsCQANAICMgJE4NASAlITEgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQv9DAAAAAAAAAAAAAAAAAAAAAAhQyAoIS9BACErA0AgKyAabCEuQQAhLANAIC4gLCAZbGohLSAvIEFqITAgQgRAA0AgMSAtaiE5IC/9AAIAIUsgQyA5/QkCACBL/eYB/eQBIUMgL/0AAhAhSyBDIDn9CQIEIEv95gH95AEhQyAv/QACICFLIEMgOf0JAgggS/3mAf3kASFDIC/9AAIwIUsgQyA5/QkCDCBL/eYB/eQBIUMgLUEQaiEtIC9BwABqIS8gLyAwSQ0ACwUDQCAxIC1qITkgL/0AAgAhSyBDIDn9CQIAIEv95gH95AEhQyAtQQRqIS0gL0EQaiEvIC8gMEkNAAsLICxBAWohLCAsIA1IDQALICtBAWohKyArIAxIDQALICpBBE4EQCApIEP9CwIABSApIEP9HwA4AgAgKkEBSgRAICkgQ/0fATgCBAsgKkECSgRAICkgQ/0fAjgCCAsLICkgHWohKSAjQQFqISMMAAsLICJBBGohIgwACwsgIUEBaiEhDAALCyAgIR8MAAsLIB5BAWohHgwACwsL5wYCD38MeyADIAZqIAdqIQogBCAIaiAJaiELIAtBBGwhDSAKIA1sIQwgBUEEbCESQQAhEAJAA0AgECACTg0BQQAhEQJAA0AgESAFTg0BIAEgECAFbCARaiAMbGohDyAPQQAgBiANbPwLACAPIAYgA2ogDWxqQQAgByANbPwLACARQQFqIREMAAsLQQAhFQJAA0AgFSADTg0BIAAgECADbCAVaiAEIBJsbGohFkEAIRECQANAIBEgBU4NASABIBAgBWwgEWogDGwgFSAGaiANbGpqIRcgF0EAaiEYQQAhFAJAA0AgFCAITg0BIBhDAAAAADgCACAYIAxqQwAAAAA4AgAgGCAMQQJsakMAAAAAOAIAIBggDEEDbGpDAAAAADgCACAYQQRqIRggFEEBaiEUDAALCyAXIAggBGpBBGxqIRhBACEUAkADQCAUIAlODQEgGEMAAAAAOAIAIBggDGpDAAAAADgCACAYIAxBAmxqQwAAAAA4AgAgGCAMQQNsakMAAAAAOAIAIBhBBGohGCAUQQFqIRQMAAsLIBYgEUEEbGohDiAXIAhBBGxqIQ9BACETAkADQCATQQRqIARKDQEgDv0AAgAhGSAOIBJq/QACACEaIA4gEkECbGr9AAIAIRsgDiASQQNsav0AAgAhHCAZIBr9DQABAgMQERITBAUGBxQVFhchHSAbIBz9DQABAgMQERITBAUGBxQVFhchHiAZIBr9DQgJCgsYGRobDA0ODxwdHh8hHyAbIBz9DQgJCgsYGRobDA0ODxwdHh8hICAdIB79DQABAgMEBQYHEBESExQVFhchISAdIB79DQgJCgsMDQ4PGBkaGxwdHh8hIiAfICD9DQABAgMEBQYHEBESExQVFhchIyAfICD9DQgJCgsMDQ4PGBkaGxwdHh8hJCAPICH9CwIAIA8gDGogIv0LAgAgDyAMQQJsaiAj/QsCACAPIAxBA2xqICT9CwIAIA4gEkEEbGohDiAPQRBqIQ8gE0EEaiETDAALCwJAA0AgEyAETg0BQQAhFANAIA8gFCAMbGogDiAUQQRsaioCADgCACAUQQFqIRQgFEEESA0ACyAOIBJqIQ4gD0EEaiEPIBNBAWohEwwACwsgEUEEaiERDAALCyAVQQFqIRUMAAsLIBBBAWohEAwACwsLsA4CHH8TeyAGIApuIREgBCAFbEEEbCESIAVBBGwhEyAPIAVsQQRsISggEEEEbCEpIAlBBGwhFCALQQJ2IRYgDCANbCAKbEEQbCEVQQAhFwJAA0AgFyADTg0BQQAhGgJAA0AgGiAHTg0BQQAhGAJAA0AgGCARTg0BIAAgFyAGbCAYIApsaiASbCAaIA5sIBNsamohH0EAIRkCQANAIBkgFk4NASABIBggFmwgGWogFWxqIR0gAiAXIAdsIBpqIAhsIBRsaiAYIAtsIBlBBGxqQQRsaiEgQQAhGwJAA0AgG0EIaiAISg0B/QwAAAAAAAAAAAAAAAAAAAAAIS39DAAAAAAAAAAAAAAAAAAAAAAhLv0MAAAAAAAAAAAAAAAAAAAAACEv/QwAAAAAAAAAAAAAAAAAAAAAITD9DAAAAAAAAAAAAAAAAAAAAAAhMf0MAAAAAAAAAAAAAAAAAAAAACEy/QwAAAAAAAAAAAAAAAAAAAAAITP9DAAAAAAAAAAAAAAAAAAAAAAhNCAdISQgHyAbQQRsaiEhQQAhJQNAICEgJSAobGohIkEAISYDQCAiISMgJCAKQRBsaiEsA0AgI/0AAgAhNSAj/QACECE2ICT9CQIAITcgLSA1IDf95gH95AEhLSAxIDYgN/3mAf3kASExICT9CQIEITcgLiA1IDf95gH95AEhLiAyIDYgN/3mAf3kASEyICT9CQIIITcgLyA1IDf95gH95AEhLyAzIDYgN/3mAf3kASEzICT9CQIMITcgMCA1IDf95gH95AEhMCA0IDYgN/3mAf3kASE0ICRBEGohJCAjIBJqISMgJCAsSQ0ACyAiIClqISIgJkEBaiEmICYgDUgNAAsgJUEBaiElICUgDEgNAAsgICAbIBRsaiEqIC0gLv0NAAECAxAREhMEBQYHFBUWFyE4IC8gMP0NAAECAxAREhMEBQYHFBUWFyE5IC0gLv0NCAkKCxgZGhsMDQ4PHB0eHyE6IC8gMP0NCAkKCxgZGhsMDQ4PHB0eHyE7IDggOf0NAAECAwQFBgcQERITFBUWFyE8IDggOf0NCAkKCwwNDg8YGRobHB0eHyE9IDogO/0NAAECAwQFBgcQERITFBUWFyE+IDogO/0NCAkKCwwNDg8YGRobHB0eHyE/ICogPP0LAgAgKiAUaiEqICogPf0LAgAgKiAUaiEqICogPv0LAgAgKiAUaiEqICogP/0LAgAgKiAUaiEqIDEgMv0NAAECAxAREhMEBQYHFBUWFyE4IDMgNP0NAAECAxAREhMEBQYHFBUWFyE5IDEgMv0NCAkKCxgZGhsMDQ4PHB0eHyE6IDMgNP0NCAkKCxgZGhsMDQ4PHB0eHyE7IDggOf0NAAECAwQFBgcQERITFBUWFyE8IDggOf0NCAkKCwwNDg8YGRobHB0eHyE9IDogO/0NAAECAwQFBgcQERITFBUWFyE+IDogO/0NCAkKCwwNDg8YGRobHB0eHyE/ICogPP0LAgAgKiAUaiEqICogPf0LAgAgKiAUaiEqICogPv0LAgAgKiAUaiEqICogP/0LAgAgKiAUaiEqIBtBCGohGwwACwsCQANAIBsgCE4NASAIIBtrISv9DAAAAAAAAAAAAAAAAAAAAAAhLf0MAAAAAAAAAAAAAAAAAAAAACEu/QwAAAAAAAAAAAAAAAAAAAAAIS/9DAAAAAAAAAAAAAAAAAAAAAAhMCAdISQgHyAbQQRsaiEhQQAhJQNAICEgJSAobGohIkEAISYDQCAiISMgJCAKQRBsaiEsA0AgI/0AAgAhNSAk/QkCACE3IC0gNSA3/eYB/eQBIS0gJP0JAgQhNyAuIDUgN/3mAf3kASEuICT9CQIIITcgLyA1IDf95gH95AEhLyAk/QkCDCE3IDAgNSA3/eYB/eQBITAgJEEQaiEkICMgEmohIyAkICxJDQALICIgKWohIiAmQQFqISYgJiANSA0ACyAlQQFqISUgJSAMSA0ACyAgIBsgFGxqISogLSAu/Q0AAQIDEBESEwQFBgcUFRYXITggLyAw/Q0AAQIDEBESEwQFBgcUFRYXITkgLSAu/Q0ICQoLGBkaGwwNDg8cHR4fITogLyAw/Q0ICQoLGBkaGwwNDg8cHR4fITsgOCA5/Q0AAQIDBAUGBxAREhMUFRYXITwgOCA5/Q0ICQoLDA0ODxgZGhscHR4fIT0gOiA7/Q0AAQIDBAUGBxAREhMUFRYXIT4gOiA7/Q0ICQoLDA0ODxgZGhscHR4fIT8gK0EASgRAICogPP0LAgAgKiAUaiEqCyArQQFKBEAgKiA9/QsCACAqIBRqISoLICtBAkoEQCAqID79CwIAICogFGohKgsgK0EDSgRAICogP/0LAgAgKiAUaiEqCyAbQQRqIRsMAAsLIBlBAWohGQwACwsgGEEBaiEYDAALCyAaQQFqIRoMAAsLIBdBAWohFwwACwsLgSYCIH8ReyAGIApuIRMgBkEEbCEUIAUgFGwhFSAEIBVsIRYgDyAUbCEXIAlBBGwhGCAJQQRsIRkgESAUbCEvIAogGWwhMCACQQAgDCANbCAKbCAZbPwLACAHIAhsRQRADwtBACEaAkADQCAaIANODQFBACEbAkADQCAbIAdODQEgGyASaiEcIBwgB0oEQCAHIRwLQQAhHQJAA0AgHSATTg0BQQAhHgJAA0AgHiALTg0BIAsgHmshHyABIBogByAIbGwgGGxqIB0gC2wgHmpBBGxqIS1BACEhA0BBACEiA0AgACAaIBZsaiAhIBBsIBVsaiAiIBFsIBRsIB0gCmxBBGxqaiEuQQAhIyAiQQNqIA1MIApBA3FFIApBCE5xcQRAA0AgLiAjQQRsaiElIAIgISANbCAiaiAKbCAjaiAZbCAdIAtsIB5qQQRsamohJiAfQQROBHsgJiAwQQBsIBlBAGxqav0AAgAFIB9BAUYEeyAmIDBBAGwgGUEAbGpq/VwCAAUgH0ECRgR7ICYgMEEAbCAZQQBsamr9XQIABSAmIDBBAGwgGUEAbGpq/V0CACAmIDBBAGwgGUEAbGpqKgII/SACCwsLITggH0EETgR7ICYgMEEAbCAZQQFsamr9AAIABSAfQQFGBHsgJiAwQQBsIBlBAWxqav1cAgAFIB9BAkYEeyAmIDBBAGwgGUEBbGpq/V0CAAUgJiAwQQBsIBlBAWxqav1dAgAgJiAwQQBsIBlBAWxqaioCCP0gAgsLCyE5IB9BBE4EeyAmIDBBAGwgGUECbGpq/QACAAUgH0EBRgR7ICYgMEEAbCAZQQJsamr9XAIABSAfQQJGBHsgJiAwQQBsIBlBAmxqav1dAgAFICYgMEEAbCAZQQJsamr9XQIAICYgMEEAbCAZQQJsamoqAgj9IAILCwshOiAfQQROBHsgJiAwQQBsIBlBA2xqav0AAgAFIB9BAUYEeyAmIDBBAGwgGUEDbGpq/VwCAAUgH0ECRgR7ICYgMEEAbCAZQQNsamr9XQIABSAmIDBBAGwgGUEDbGpq/V0CACAmIDBBAGwgGUEDbGpqKgII/SACCwsLITsgH0EETgR7ICYgMEEBbCAZQQBsamr9AAIABSAfQQFGBHsgJiAwQQFsIBlBAGxqav1cAgAFIB9BAkYEeyAmIDBBAWwgGUEAbGpq/V0CAAUgJiAwQQFsIBlBAGxqav1dAgAgJiAwQQFsIBlBAGxqaioCCP0gAgsLCyE8IB9BBE4EeyAmIDBBAWwgGUEBbGpq/QACAAUgH0EBRgR7ICYgMEEBbCAZQQFsamr9XAIABSAfQQJGBHsgJiAwQQFsIBlBAWxqav1dAgAFICYgMEEBbCAZQQFsamr9XQIAICYgMEEBbCAZQQFsamoqAgj9IAILCwshPSAfQQROBHsgJiAwQQFsIBlBAmxqav0AAgAFIB9BAUYEeyAmIDBBAWwgGUECbGpq/VwCAAUgH0ECRgR7ICYgMEEBbCAZQQJsamr9XQIABSAmIDBBAWwgGUECbGpq/V0CACAmIDBBAWwgGUECbGpqKgII/SACCwsLIT4gH0EETgR7ICYgMEEBbCAZQQNsamr9AAIABSAfQQFGBHsgJiAwQQFsIBlBA2xqav1cAgAFIB9BAkYEeyAmIDBBAWwgGUEDbGpq/V0CAAUgJiAwQQFsIBlBA2xqav1dAgAgJiAwQQFsIBlBA2xqaioCCP0gAgsLCyE/IB9BBE4EeyAmIDBBAmwgGUEAbGpq/QACAAUgH0EBRgR7ICYgMEECbCAZQQBsamr9XAIABSAfQQJGBHsgJiAwQQJsIBlBAGxqav1dAgAFICYgMEECbCAZQQBsamr9XQIAICYgMEECbCAZQQBsamoqAgj9IAILCwshQCAfQQROBHsgJiAwQQJsIBlBAWxqav0AAgAFIB9BAUYEeyAmIDBBAmwgGUEBbGpq/VwCAAUgH0ECRgR7ICYgMEECbCAZQQFsamr9XQIABSAmIDBBAmwgGUEBbGpq/V0CACAmIDBBAmwgGUEBbGpqKgII/SACCwsLIUEgH0EETgR7ICYgMEECbCAZQQJsamr9AAIABSAfQQFGBHsgJiAwQQJsIBlBAmxqav1cAgAFIB9BAkYEeyAmIDBBAmwgGUECbGpq/V0CAAUgJiAwQQJsIBlBAmxqav1dAgAgJiAwQQJsIBlBAmxqaioCCP0gAgsLCyFCIB9BBE4EeyAmIDBBAmwgGUEDbGpq/QACAAUgH0EBRgR7ICYgMEECbCAZQQNsamr9XAIABSAfQQJGBHsgJiAwQQJsIBlBA2xqav1dAgAFICYgMEECbCAZQQNsamr9XQIAICYgMEECbCAZQQNsamoqAgj9IAILCwshQyAbIScDQCAlICcgDmwgFWxqISogKiAvaiExIDEgL2ohMiAtICcgCCAYbGxqISsgKyAIIBhsaiEsA0AgH0EETgR7ICv9AAIABSAfQQFGBHsgK/1cAgAFIB9BAkYEeyAr/V0CAAUgK/1dAgAgKyoCCP0gAgsLCyE3IDggKv0JAgAgN/3mAf3kASE4IDkgKv0JAgQgN/3mAf3kASE5IDogKv0JAgggN/3mAf3kASE6IDsgKv0JAgwgN/3mAf3kASE7IDwgMf0JAgAgN/3mAf3kASE8ID0gMf0JAgQgN/3mAf3kASE9ID4gMf0JAgggN/3mAf3kASE+ID8gMf0JAgwgN/3mAf3kASE/IEAgMv0JAgAgN/3mAf3kASFAIEEgMv0JAgQgN/3mAf3kASFBIEIgMv0JAgggN/3mAf3kASFCIEMgMv0JAgwgN/3mAf3kASFDICogF2ohKiAxIBdqITEgMiAXaiEyICsgGGohKyArICxJDQALICdBAWohJyAnIBxIDQALIB9BBE4EQCAmIDBBAGwgGUEAbGpqIDj9CwIABSAmIDBBAGwgGUEAbGpqIDj9HwA4AgAgH0EBSgRAICYgMEEAbCAZQQBsamogOP0fATgCBAsgH0ECSgRAICYgMEEAbCAZQQBsamogOP0fAjgCCAsLIB9BBE4EQCAmIDBBAGwgGUEBbGpqIDn9CwIABSAmIDBBAGwgGUEBbGpqIDn9HwA4AgAgH0EBSgRAICYgMEEAbCAZQQFsamogOf0fATgCBAsgH0ECSgRAICYgMEEAbCAZQQFsamogOf0fAjgCCAsLIB9BBE4EQCAmIDBBAGwgGUECbGpqIDr9CwIABSAmIDBBAGwgGUECbGpqIDr9HwA4AgAgH0EBSgRAICYgMEEAbCAZQQJsamogOv0fATgCBAsgH0ECSgRAICYgMEEAbCAZQQJsamogOv0fAjgCCAsLIB9BBE4EQCAmIDBBAGwgGUEDbGpqIDv9CwIABSAmIDBBAGwgGUEDbGpqIDv9HwA4AgAgH0EBSgRAICYgMEEAbCAZQQNsamogO/0fATgCBAsgH0ECSgRAICYgMEEAbCAZQQNsamogO/0fAjgCCAsLIB9BBE4EQCAmIDBBAWwgGUEAbGpqIDz9CwIABSAmIDBBAWwgGUEAbGpqIDz9HwA4AgAgH0EBSgRAICYgMEEBbCAZQQBsamogPP0fATgCBAsgH0ECSgRAICYgMEEBbCAZQQBsamogPP0fAjgCCAsLIB9BBE4EQCAmIDBBAWwgGUEBbGpqID39CwIABSAmIDBBAWwgGUEBbGpqID39HwA4AgAgH0EBSgRAICYgMEEBbCAZQQFsamogPf0fATgCBAsgH0ECSgRAICYgMEEBbCAZQQFsamogPf0fAjgCCAsLIB9BBE4EQCAmIDBBAWwgGUECbGpqID79CwIABSAmIDBBAWwgGUECbGpqID79HwA4AgAgH0EBSgRAICYgMEEBbCAZQQJsamogPv0fATgCBAsgH0ECSgRAICYgMEEBbCAZQQJsamogPv0fAjgCCAsLIB9BBE4EQCAmIDBBAWwgGUEDbGpqID/9CwIABSAmIDBBAWwgGUEDbGpqID/9HwA4AgAgH0EBSgRAICYgMEEBbCAZQQNsamogP/0fATgCBAsgH0ECSgRAICYgMEEBbCAZQQNsamogP/0fAjgCCAsLIB9BBE4EQCAmIDBBAmwgGUEAbGpqIED9CwIABSAmIDBBAmwgGUEAbGpqIED9HwA4AgAgH0EBSgRAICYgMEECbCAZQQBsamogQP0fATgCBAsgH0ECSgRAICYgMEECbCAZQQBsamogQP0fAjgCCAsLIB9BBE4EQCAmIDBBAmwgGUEBbGpqIEH9CwIABSAmIDBBAmwgGUEBbGpqIEH9HwA4AgAgH0EBSgRAICYgMEECbCAZQQFsamogQf0fATgCBAsgH0ECSgRAICYgMEECbCAZQQFsamogQf0fAjgCCAsLIB9BBE4EQCAmIDBBAmwgGUECbGpqIEL9CwIABSAmIDBBAmwgGUECbGpqIEL9HwA4AgAgH0EBSgRAICYgMEECbCAZQQJsamogQv0fATgCBAsgH0ECSgRAICYgMEECbCAZQQJsamogQv0fAjgCCAsLIB9BBE4EQCAmIDBBAmwgGUEDbGpqIEP9CwIABSAmIDBBAmwgGUEDbGpqIEP9HwA4AgAgH0EBSgRAICYgMEECbCAZQQNsamogQ/0fATgCBAsgH0ECSgRAICYgMEECbCAZQQNsamogQ/0fAjgCCAsLICNBBGohIyAjIApIDQALICJBAmohIiAKISMLAkADQCAjQQRqIApKDQEgLiAjQQRsaiElIAIgISANbCAiaiAKbCAjaiAZbCAdIAtsIB5qQQRsamohJiAfQQROBHsgJv0AAgAFIB9BAUYEeyAm/VwCAAUgH0ECRgR7ICb9XQIABSAm/V0CACAmKgII/SACCwsLITMgH0EETgR7ICYgGWr9AAIABSAfQQFGBHsgJiAZav1cAgAFIB9BAkYEeyAmIBlq/V0CAAUgJiAZav1dAgAgJiAZaioCCP0gAgsLCyE0IB9BBE4EeyAmIBlBAmxq/QACAAUgH0EBRgR7ICYgGUECbGr9XAIABSAfQQJGBHsgJiAZQQJsav1dAgAFICYgGUECbGr9XQIAICYgGUECbGoqAgj9IAILCwshNSAfQQROBHsgJiAZQQNsav0AAgAFIB9BAUYEeyAmIBlBA2xq/VwCAAUgH0ECRgR7ICYgGUEDbGr9XQIABSAmIBlBA2xq/V0CACAmIBlBA2xqKgII/SACCwsLITYgGyEnA0AgJSAnIA5sIBVsaiEqIC0gJyAIIBhsbGohKyArIAggGGxqISwDQCAfQQROBHsgK/0AAgAFIB9BAUYEeyAr/VwCAAUgH0ECRgR7ICv9XQIABSAr/V0CACArKgII/SACCwsLITcgMyAq/QkCACA3/eYB/eQBITMgNCAq/QkCBCA3/eYB/eQBITQgNSAq/QkCCCA3/eYB/eQBITUgNiAq/QkCDCA3/eYB/eQBITYgKiAXaiEqICsgGGohKyArICxJDQALICdBAWohJyAnIBxIDQALIB9BBE4EQCAmIDP9CwIABSAmIDP9HwA4AgAgH0EBSgRAICYgM/0fATgCBAsgH0ECSgRAICYgM/0fAjgCCAsLIB9BBE4EQCAmIBlqIDT9CwIABSAmIBlqIDT9HwA4AgAgH0EBSgRAICYgGWogNP0fATgCBAsgH0ECSgRAICYgGWogNP0fAjgCCAsLIB9BBE4EQCAmIBlBAmxqIDX9CwIABSAmIBlBAmxqIDX9HwA4AgAgH0EBSgRAICYgGUECbGogNf0fATgCBAsgH0ECSgRAICYgGUECbGogNf0fAjgCCAsLIB9BBE4EQCAmIBlBA2xqIDb9CwIABSAmIBlBA2xqIDb9HwA4AgAgH0EBSgRAICYgGUEDbGogNv0fATgCBAsgH0ECSgRAICYgGUEDbGogNv0fAjgCCAsLICNBBGohIwwACwsCQANAICMgCk4NASAuICNBBGxqISUgAiAhIA1sICJqIApsICNqIBlsIB0gC2wgHmpBBGxqaiEmIB9BBE4EeyAm/QACAAUgH0EBRgR7ICb9XAIABSAfQQJGBHsgJv1dAgAFICb9XQIAICYqAgj9IAILCwshMyAbIScDQCAlICcgDmwgFWxqISogLSAnIAggGGxsaiErICsgCCAYbGohLANAIB9BBE4EeyAr/QACAAUgH0EBRgR7ICv9XAIABSAfQQJGBHsgK/1dAgAFICv9XQIAICsqAgj9IAILCwshNyAzICr9CQIAIDf95gH95AEhMyAqIBdqISogKyAYaiErICsgLEkNAAsgJ0EBaiEnICcgHEgNAAsgH0EETgRAICYgM/0LAgAFICYgM/0fADgCACAfQQFKBEAgJiAz/R8BOAIECyAfQQJKBEAgJiAz/R8COAIICwsgI0EBaiEjDAALCyAiQQFqISIgIiANSA0ACyAhQQFqISEgISAMSA0ACyAeQQRqIR4MAAsLIB1BAWohHQwACwsgHCEbDAALCyAaQQFqIRoMAAsLC8MIAhp/D3sgBiAKbiESIAVBBGwhFSAEIBVsIRMgByAIbEEEbCEUIBRBAmwhJyAUQQNsISggCUEQbCEfIAwgDWwgCmwgCWwhKyACQQAgK0EQbPwLAEEAIRYCQANAIBYgA04NAUEAIRcCQANAIBcgB04NASAXIBFqIRggGCAHSgRAIAchGAtBACEZAkADQCAZIBJODQFBACEaAkADQCAaIAtODQEgASAWIAlsIBkgC2wgGmpqIBRsaiEhQQAhGwNAQQAhHANAQQAhHQNAIAIgGyANbCAcaiAKbCAdaiAfbCAZIAtsIBpqQRBsamohHiAe/QACACEsIB79AAIQIS0gHv0AAiAhLiAe/QACMCEvIB4gH2r9AAIAITAgHiAfav0AAhAhMSAeIB9q/QACICEyIB4gH2r9AAIwITMgACAWIAZsIBkgCmwgHWpqIBNsIBsgD2wgFWwgHCAQbEEEbGpqaiEgIBchIgNAICAgIiAObCAVbGohIyAjIBNqISQgISAiIAhsQQRsaiElICUgCEF8cUEEbGohJgJAA0AgJSAmTw0BICP9AAIAITQgJP0AAgAhNSAl/QACACE2ICUgFGr9AAIAITcgJSAnav0AAgAhOCAlIChq/QACACE5ICwgNCA2/eYB/eQBISwgLSA0IDf95gH95AEhLSAuIDQgOP3mAf3kASEuIC8gNCA5/eYB/eQBIS8gMCA1IDb95gH95AEhMCAxIDUgN/3mAf3kASExIDIgNSA4/eYB/eQBITIgMyA1IDn95gH95AEhMyAjQRBqISMgJEEQaiEkICVBEGohJQwACwsgCEEDcSEpICkEQCAp/RH9DAAAAAABAAAAAgAAAAMAAAD9OyE6ICP9AAIAIDr9TiE0ICT9AAIAIDr9TiE1ICX9AAIAIDr9TiE2ICUgFGr9AAIAIDr9TiE3ICUgJ2r9AAIAIDr9TiE4ICUgKGr9AAIAIDr9TiE5ICwgNCA2/eYB/eQBISwgLSA0IDf95gH95AEhLSAuIDQgOP3mAf3kASEuIC8gNCA5/eYB/eQBIS8gMCA1IDb95gH95AEhMCAxIDUgN/3mAf3kASExIDIgNSA4/eYB/eQBITIgMyA1IDn95gH95AEhMwsgIkEBaiEiICIgGEgNAAsgHiAs/QsCACAeIC39CwIQIB4gLv0LAiAgHiAv/QsCMCAeIB9qIDD9CwIAIB4gH2ogMf0LAhAgHiAfaiAy/QsCICAeIB9qIDP9CwIwIB1BAmohHSAdIApIDQALIBxBAWohHCAcIA1IDQALIBtBAWohGyAbIAxIDQALIBpBBGohGgwACwsgGUEBaiEZDAALCyAYIRcMAAsLIBZBAWohFgwACwtBACEqAkADQCAqICtODQEgAiAqQRBsav0AAgAhNCACICpBBGxqIDT9HwAgNP0fAZIgNP0fAiA0/R8DkpI4AgAgKkEBaiEqDAALCws=';

/** The part of the WebAssembly JS API used here (the project's TypeScript lib has no DOM/WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
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
const instances = new WeakMap<WasmMemory, GroupedConvExports>();

function instanceFor(memory: WasmMemory): GroupedConvExports {
  let inst = instances.get(memory);
  if (inst == null) {
    compiled ??= new WASM.Module(Buffer.from(WASM_BASE64, 'base64'));
    inst = new WASM.Instance(compiled, { env: { memory } }).exports as unknown as GroupedConvExports;
    instances.set(memory, inst);
  }
  return inst;
}

/** What this file uses of tfjs-backend-wasm's backend object. */
interface WasmBackendLike {
  wasm: { asm?: { memory?: WasmMemory } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

function wasmBackend(): WasmBackendLike | null {
  const b = tf.backend() as unknown as Partial<WasmBackendLike>;
  return tf.getBackend() === 'wasm' && b.wasm?.asm?.memory != null && b.dataIdMap != null ? (b as WasmBackendLike) : null;
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
    const k = instanceFor(backend.wasm.asm!.memory!);
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
    // Planar padded input ([N, Cin, Hp, Wp] plus 16 bytes of slack read past the last row), 8 pixels x 4 output
    // channels per pass with pixels in lanes.
    const xp = packPlanar(x, pads);
    const wBlocked = packGroupedFilter(w, groups, 4);
    try {
      return runKernel([xp, wBlocked], [n, ho, wo, cout], (k, [xo, wOff], yo) =>
        k.convPlanarP2(xo, wOff, yo, n, hp, wp, cin, ho, wo, cout, cinG, cog, kh, kw, sh, dh, dw),
      ) as tf.Tensor4D;
    } finally {
      tf.dispose([xp, wBlocked]);
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
