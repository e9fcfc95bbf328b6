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
  'AGFzbQEAAAABSgRgFH9/f39/f39/f39/f39/f39/f39/AGAFf39/f38AYBF/f39/f39/f39/f39/f39/fwBgE39/f39/f39/f39/f39/f39/f38AAg8BA2VudgZtZW1vcnkCAAEDBQQAAQIDBzEEBGNvbnYAAApwYWNrUGxhbmFyAAEMY29udlBsYW5hclAyAAIKZmlsdGVyR3JhZAADCqA1BOUVAi9/CXsgBiAKbiEUIAZBBGwhFSAFIBVsIRYgBCAWbCEXIA8gFWwhGCARIBVsIRkgECAWbCEaIA4gFmwgCCAYbGshGyAKQRBsIUEgDCANbCAKbEEQbCEcIApBA3FFIUIgCUEEbCEdQQAhHgJAA0AgHiADTg0BQQAhHwJAA0AgHyAHTg0BIB8gE2ohICAgIAdKBEAgByEgCyAgIB9rIAhsISRBACEhAkADQCAhIBRODQEgACAeIBdsaiAfIA5sIBZsaiAhIApsQQRsaiEnQQAhIgJAA0AgIiALTg0BIAEgISASQQJ2bCAiQQJ2aiAcbGohKCACIB4gB2wgH2ogCGwgHWxqICEgC2wgImpBBGxqISkgCyAiayEqICchJUEAISZBACEjAkADQCAjQQhqICRKDQEgJSExICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhMiAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITMgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSE0ICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhNSAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITYgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSE3ICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhOCAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElC/0MAAAAAAAAAAAAAAAAAAAAACFD/QwAAAAAAAAAAAAAAAAAAAAAIUT9DAAAAAAAAAAAAAAAAAAAAAAhRf0MAAAAAAAAAAAAAAAAAAAAACFG/QwAAAAAAAAAAAAAAAAAAAAAIUf9DAAAAAAAAAAAAAAAAAAAAAAhSP0MAAAAAAAAAAAAAAAAAAAAACFJ/QwAAAAAAAAAAAAAAAAAAAAAIUogKCEvQQAhKwNAICsgGmwhLkEAISwDQCAuICwgGWxqIS0gLyBBaiEwIEIEQANAIDEgLWohOSAyIC1qITogMyAtaiE7IDQgLWohPCA1IC1qIT0gNiAtaiE+IDcgLWohPyA4IC1qIUAgL/0AAgAhSyBDIDn9CQIAIEv95gH95AEhQyBEIDr9CQIAIEv95gH95AEhRCBFIDv9CQIAIEv95gH95AEhRSBGIDz9CQIAIEv95gH95AEhRiBHID39CQIAIEv95gH95AEhRyBIID79CQIAIEv95gH95AEhSCBJID/9CQIAIEv95gH95AEhSSBKIED9CQIAIEv95gH95AEhSiAv/QACECFLIEMgOf0JAgQgS/3mAf3kASFDIEQgOv0JAgQgS/3mAf3kASFEIEUgO/0JAgQgS/3mAf3kASFFIEYgPP0JAgQgS/3mAf3kASFGIEcgPf0JAgQgS/3mAf3kASFHIEggPv0JAgQgS/3mAf3kASFIIEkgP/0JAgQgS/3mAf3kASFJIEogQP0JAgQgS/3mAf3kASFKIC/9AAIgIUsgQyA5/QkCCCBL/eYB/eQBIUMgRCA6/QkCCCBL/eYB/eQBIUQgRSA7/QkCCCBL/eYB/eQBIUUgRiA8/QkCCCBL/eYB/eQBIUYgRyA9/QkCCCBL/eYB/eQBIUcgSCA+/QkCCCBL/eYB/eQBIUggSSA//QkCCCBL/eYB/eQBIUkgSiBA/QkCCCBL/eYB/eQBIUogL/0AAjAhSyBDIDn9CQIMIEv95gH95AEhQyBEIDr9CQIMIEv95gH95AEhRCBFIDv9CQIMIEv95gH95AEhRSBGIDz9CQIMIEv95gH95AEhRiBHID39CQIMIEv95gH95AEhRyBIID79CQIMIEv95gH95AEhSCBJID/9CQIMIEv95gH95AEhSSBKIED9CQIMIEv95gH95AEhSiAtQRBqIS0gL0HAAGohLyAvIDBJDQALBQNAIDEgLWohOSAyIC1qITogMyAtaiE7IDQgLWohPCA1IC1qIT0gNiAtaiE+IDcgLWohPyA4IC1qIUAgL/0AAgAhSyBDIDn9CQIAIEv95gH95AEhQyBEIDr9CQIAIEv95gH95AEhRCBFIDv9CQIAIEv95gH95AEhRSBGIDz9CQIAIEv95gH95AEhRiBHID39CQIAIEv95gH95AEhRyBIID79CQIAIEv95gH95AEhSCBJID/9CQIAIEv95gH95AEhSSBKIED9CQIAIEv95gH95AEhSiAtQQRqIS0gL0EQaiEvIC8gMEkNAAsLICxBAWohLCAsIA1IDQALICtBAWohKyArIAxIDQALICpBBE4EQCApIEP9CwIABSApIEP9HwA4AgAgKkEBSgRAICkgQ/0fATgCBAsgKkECSgRAICkgQ/0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBE/QsCAAUgKSBE/R8AOAIAICpBAUoEQCApIET9HwE4AgQLICpBAkoEQCApIET9HwI4AggLCyApIB1qISkgKkEETgRAICkgRf0LAgAFICkgRf0fADgCACAqQQFKBEAgKSBF/R8BOAIECyAqQQJKBEAgKSBF/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEb9CwIABSApIEb9HwA4AgAgKkEBSgRAICkgRv0fATgCBAsgKkECSgRAICkgRv0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBH/QsCAAUgKSBH/R8AOAIAICpBAUoEQCApIEf9HwE4AgQLICpBAkoEQCApIEf9HwI4AggLCyApIB1qISkgKkEETgRAICkgSP0LAgAFICkgSP0fADgCACAqQQFKBEAgKSBI/R8BOAIECyAqQQJKBEAgKSBI/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEn9CwIABSApIEn9HwA4AgAgKkEBSgRAICkgSf0fATgCBAsgKkECSgRAICkgSf0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBK/QsCAAUgKSBK/R8AOAIAICpBAUoEQCApIEr9HwE4AgQLICpBAkoEQCApIEr9HwI4AggLCyApIB1qISkgI0EIaiEjDAALCwJAA0AgIyAkTg0BICUhMSAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElC/0MAAAAAAAAAAAAAAAAAAAAACFDICghL0EAISsDQCArIBpsIS5BACEsA0AgLiAsIBlsaiEtIC8gQWohMCBCBEADQCAxIC1qITkgL/0AAgAhSyBDIDn9CQIAIEv95gH95AEhQyAv/QACECFLIEMgOf0JAgQgS/3mAf3kASFDIC/9AAIgIUsgQyA5/QkCCCBL/eYB/eQBIUMgL/0AAjAhSyBDIDn9CQIMIEv95gH95AEhQyAtQRBqIS0gL0HAAGohLyAvIDBJDQALBQNAIDEgLWohOSAv/QACACFLIEMgOf0JAgAgS/3mAf3kASFDIC1BBGohLSAvQRBqIS8gLyAwSQ0ACwsgLEEBaiEsICwgDUgNAAsgK0EBaiErICsgDEgNAAsgKkEETgRAICkgQ/0LAgAFICkgQ/0fADgCACAqQQFKBEAgKSBD/R8BOAIECyAqQQJKBEAgKSBD/R8COAIICwsgKSAdaiEpICNBAWohIwwACwsgIkEEaiEiDAALCyAhQQFqISEMAAsLICAhHwwACwsgHkEBaiEeDAALCwvRBAILfwx7IANBBGwhBSAEQQRsIQpBgIACIApuQXxxIQ0gDUEESARAQQQhDQtBACEIAkADQCAIIAJODQFBACEOAkADQCAOIANODQEgDiANaiEPIA8gA0oEQCADIQ8LQQAhCQJAA0AgCSAETg0BIAAgCCADbCAOaiAKbGogCUEEbGohBiABIAggBGwgCWogBWwgDkEEbGpqIQcgDiELAkADQCALQQRqIA9KDQEgBv0AAgAhECAGIApq/QACACERIAYgCkECbGr9AAIAIRIgBiAKQQNsav0AAgAhEyAQIBH9DQABAgMQERITBAUGBxQVFhchFCASIBP9DQABAgMQERITBAUGBxQVFhchFSAQIBH9DQgJCgsYGRobDA0ODxwdHh8hFiASIBP9DQgJCgsYGRobDA0ODxwdHh8hFyAUIBX9DQABAgMEBQYHEBESExQVFhchGCAUIBX9DQgJCgsMDQ4PGBkaGxwdHh8hGSAWIBf9DQABAgMEBQYHEBESExQVFhchGiAWIBf9DQgJCgsMDQ4PGBkaGxwdHh8hGyAHIBj9CwIAIAcgBWogGf0LAgAgByAFQQJsaiAa/QsCACAHIAVBA2xqIBv9CwIAIAYgCkEEbGohBiAHQRBqIQcgC0EEaiELDAALCwJAA0AgCyAPTg0BQQAhDANAIAcgDCAFbGogBiAMQQRsaioCADgCACAMQQFqIQwgDEEESA0ACyAGIApqIQYgB0EEaiEHIAtBAWohCwwACwsgCUEEaiEJDAALCyAPIQ4MAAsLIAhBAWohCAwACwsLsA4CHH8TeyAGIApuIREgBCAFbEEEbCESIAVBBGwhEyAPIAVsQQRsISggEEEEbCEpIAlBBGwhFCALQQJ2IRYgDCANbCAKbEEQbCEVQQAhFwJAA0AgFyADTg0BQQAhGgJAA0AgGiAHTg0BQQAhGAJAA0AgGCARTg0BIAAgFyAGbCAYIApsaiASbCAaIA5sIBNsamohH0EAIRkCQANAIBkgFk4NASABIBggFmwgGWogFWxqIR0gAiAXIAdsIBpqIAhsIBRsaiAYIAtsIBlBBGxqQQRsaiEgQQAhGwJAA0AgG0EIaiAISg0B/QwAAAAAAAAAAAAAAAAAAAAAIS39DAAAAAAAAAAAAAAAAAAAAAAhLv0MAAAAAAAAAAAAAAAAAAAAACEv/QwAAAAAAAAAAAAAAAAAAAAAITD9DAAAAAAAAAAAAAAAAAAAAAAhMf0MAAAAAAAAAAAAAAAAAAAAACEy/QwAAAAAAAAAAAAAAAAAAAAAITP9DAAAAAAAAAAAAAAAAAAAAAAhNCAdISQgHyAbQQRsaiEhQQAhJQNAICEgJSAobGohIkEAISYDQCAiISMgJCAKQRBsaiEsA0AgI/0AAgAhNSAj/QACECE2ICT9CQIAITcgLSA1IDf95gH95AEhLSAxIDYgN/3mAf3kASExICT9CQIEITcgLiA1IDf95gH95AEhLiAyIDYgN/3mAf3kASEyICT9CQIIITcgLyA1IDf95gH95AEhLyAzIDYgN/3mAf3kASEzICT9CQIMITcgMCA1IDf95gH95AEhMCA0IDYgN/3mAf3kASE0ICRBEGohJCAjIBJqISMgJCAsSQ0ACyAiIClqISIgJkEBaiEmICYgDUgNAAsgJUEBaiElICUgDEgNAAsgICAbIBRsaiEqIC0gLv0NAAECAxAREhMEBQYHFBUWFyE4IC8gMP0NAAECAxAREhMEBQYHFBUWFyE5IC0gLv0NCAkKCxgZGhsMDQ4PHB0eHyE6IC8gMP0NCAkKCxgZGhsMDQ4PHB0eHyE7IDggOf0NAAECAwQFBgcQERITFBUWFyE8IDggOf0NCAkKCwwNDg8YGRobHB0eHyE9IDogO/0NAAECAwQFBgcQERITFBUWFyE+IDogO/0NCAkKCwwNDg8YGRobHB0eHyE/ICogPP0LAgAgKiAUaiEqICogPf0LAgAgKiAUaiEqICogPv0LAgAgKiAUaiEqICogP/0LAgAgKiAUaiEqIDEgMv0NAAECAxAREhMEBQYHFBUWFyE4IDMgNP0NAAECAxAREhMEBQYHFBUWFyE5IDEgMv0NCAkKCxgZGhsMDQ4PHB0eHyE6IDMgNP0NCAkKCxgZGhsMDQ4PHB0eHyE7IDggOf0NAAECAwQFBgcQERITFBUWFyE8IDggOf0NCAkKCwwNDg8YGRobHB0eHyE9IDogO/0NAAECAwQFBgcQERITFBUWFyE+IDogO/0NCAkKCwwNDg8YGRobHB0eHyE/ICogPP0LAgAgKiAUaiEqICogPf0LAgAgKiAUaiEqICogPv0LAgAgKiAUaiEqICogP/0LAgAgKiAUaiEqIBtBCGohGwwACwsCQANAIBsgCE4NASAIIBtrISv9DAAAAAAAAAAAAAAAAAAAAAAhLf0MAAAAAAAAAAAAAAAAAAAAACEu/QwAAAAAAAAAAAAAAAAAAAAAIS/9DAAAAAAAAAAAAAAAAAAAAAAhMCAdISQgHyAbQQRsaiEhQQAhJQNAICEgJSAobGohIkEAISYDQCAiISMgJCAKQRBsaiEsA0AgI/0AAgAhNSAk/QkCACE3IC0gNSA3/eYB/eQBIS0gJP0JAgQhNyAuIDUgN/3mAf3kASEuICT9CQIIITcgLyA1IDf95gH95AEhLyAk/QkCDCE3IDAgNSA3/eYB/eQBITAgJEEQaiEkICMgEmohIyAkICxJDQALICIgKWohIiAmQQFqISYgJiANSA0ACyAlQQFqISUgJSAMSA0ACyAgIBsgFGxqISogLSAu/Q0AAQIDEBESEwQFBgcUFRYXITggLyAw/Q0AAQIDEBESEwQFBgcUFRYXITkgLSAu/Q0ICQoLGBkaGwwNDg8cHR4fITogLyAw/Q0ICQoLGBkaGwwNDg8cHR4fITsgOCA5/Q0AAQIDBAUGBxAREhMUFRYXITwgOCA5/Q0ICQoLDA0ODxgZGhscHR4fIT0gOiA7/Q0AAQIDBAUGBxAREhMUFRYXIT4gOiA7/Q0ICQoLDA0ODxgZGhscHR4fIT8gK0EASgRAICogPP0LAgAgKiAUaiEqCyArQQFKBEAgKiA9/QsCACAqIBRqISoLICtBAkoEQCAqID79CwIAICogFGohKgsgK0EDSgRAICogP/0LAgAgKiAUaiEqCyAbQQRqIRsMAAsLIBlBAWohGQwACwsgGEEBaiEYDAALCyAaQQFqIRoMAAsLIBdBAWohFwwACwsLsQwCHH8FeyAGIApuIRMgBkEEbCEUIAUgFGwhFSAEIBVsIRYgDyAUbCEXIAlBBGwhGCAJQQRsIRkgAkEAIAwgDWwgCmwgGWz8CwAgByAIbEUEQA8LQQAhGgJAA0AgGiADTg0BQQAhGwJAA0AgGyAHTg0BIBsgEmohHCAcIAdKBEAgByEcC0EAIR0CQANAIB0gE04NAUEAIR4CQANAIB4gC04NASALIB5rIR8gASAaIAcgCGxsIBhsaiAdIAtsIB5qQQRsaiEtQQAhIQNAQQAhIgNAIAAgGiAWbGogISAQbCAVbGogIiARbCAUbCAdIApsQQRsamohLkEAISMCQANAICNBBGogCkoNASAuICNBBGxqISUgAiAhIA1sICJqIApsICNqIBlsIB0gC2wgHmpBBGxqaiEmIB9BBE4EeyAm/QACAAUgH0EBRgR7ICb9XAIABSAfQQJGBHsgJv1dAgAFICb9XQIAICYqAgj9IAILCwshLyAfQQROBHsgJiAZav0AAgAFIB9BAUYEeyAmIBlq/VwCAAUgH0ECRgR7ICYgGWr9XQIABSAmIBlq/V0CACAmIBlqKgII/SACCwsLITAgH0EETgR7ICYgGUECbGr9AAIABSAfQQFGBHsgJiAZQQJsav1cAgAFIB9BAkYEeyAmIBlBAmxq/V0CAAUgJiAZQQJsav1dAgAgJiAZQQJsaioCCP0gAgsLCyExIB9BBE4EeyAmIBlBA2xq/QACAAUgH0EBRgR7ICYgGUEDbGr9XAIABSAfQQJGBHsgJiAZQQNsav1dAgAFICYgGUEDbGr9XQIAICYgGUEDbGoqAgj9IAILCwshMiAbIScDQCAlICcgDmwgFWxqISogLSAnIAggGGxsaiErICsgCCAYbGohLANAIB9BBE4EeyAr/QACAAUgH0EBRgR7ICv9XAIABSAfQQJGBHsgK/1dAgAFICv9XQIAICsqAgj9IAILCwshMyAvICr9CQIAIDP95gH95AEhLyAwICr9CQIEIDP95gH95AEhMCAxICr9CQIIIDP95gH95AEhMSAyICr9CQIMIDP95gH95AEhMiAqIBdqISogKyAYaiErICsgLEkNAAsgJ0EBaiEnICcgHEgNAAsgH0EETgRAICYgL/0LAgAFICYgL/0fADgCACAfQQFKBEAgJiAv/R8BOAIECyAfQQJKBEAgJiAv/R8COAIICwsgH0EETgRAICYgGWogMP0LAgAFICYgGWogMP0fADgCACAfQQFKBEAgJiAZaiAw/R8BOAIECyAfQQJKBEAgJiAZaiAw/R8COAIICwsgH0EETgRAICYgGUECbGogMf0LAgAFICYgGUECbGogMf0fADgCACAfQQFKBEAgJiAZQQJsaiAx/R8BOAIECyAfQQJKBEAgJiAZQQJsaiAx/R8COAIICwsgH0EETgRAICYgGUEDbGogMv0LAgAFICYgGUEDbGogMv0fADgCACAfQQFKBEAgJiAZQQNsaiAy/R8BOAIECyAfQQJKBEAgJiAZQQNsaiAy/R8COAIICwsgI0EEaiEjDAALCwJAA0AgIyAKTg0BIC4gI0EEbGohJSACICEgDWwgImogCmwgI2ogGWwgHSALbCAeakEEbGpqISYgH0EETgR7ICb9AAIABSAfQQFGBHsgJv1cAgAFIB9BAkYEeyAm/V0CAAUgJv1dAgAgJioCCP0gAgsLCyEvIBshJwNAICUgJyAObCAVbGohKiAtICcgCCAYbGxqISsgKyAIIBhsaiEsA0AgH0EETgR7ICv9AAIABSAfQQFGBHsgK/1cAgAFIB9BAkYEeyAr/V0CAAUgK/1dAgAgKyoCCP0gAgsLCyEzIC8gKv0JAgAgM/3mAf3kASEvICogF2ohKiArIBhqISsgKyAsSQ0ACyAnQQFqIScgJyAcSA0ACyAfQQROBEAgJiAv/QsCAAUgJiAv/R8AOAIAIB9BAUoEQCAmIC/9HwE4AgQLIB9BAkoEQCAmIC/9HwI4AggLCyAjQQFqISMMAAsLICJBAWohIiAiIA1IDQALICFBAWohISAhIAxIDQALIB5BBGohHgwACwsgHUEBaiEdDAALCyAcIRsMAAsLIBpBAWohGgwACwsL';

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
 * Forward grouped convolution of an already padded input: y[n, oy, ox, g*Cog + co] = sum over ky, kx, ci of
 * xPadded[n, oy*sh + ky*dh, ox*sw + kx*dw, g*Cg + ci] * w[ky, kx, ci, g*Cog + co].
 *
 * @param xPadded [N, Hp, Wp, Cin] float32, NHWC, padding already applied (the kernel reads no pixel outside it).
 * @param w [kh, kw, Cin/groups, Cout] float32, HWIO grouped filter (torch's [Cout, Cin/groups, kh, kw] transposed).
 * @param g strides and dilations (pads are ignored: `xPadded` is padded).
 * @param groups number of groups G; Cin and Cout are multiples of it.
 * @returns [N, Ho, Wo, Cout] float32, Ho = floor((Hp - dh*(kh-1) - 1)/sh) + 1 (Wo likewise); new tensor owned by
 *   the caller. Not recorded for gradients.
 * @throws Error when w's shape does not match x and groups.
 */
export function groupedConv2dPadded(xPadded: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry, groups: number): tf.Tensor4D {
  const [n, hp, wp, cin] = xPadded.shape;
  const [kh, kw, cinG, cout] = w.shape;
  if (cinG * groups !== cin || cout % groups !== 0) {
    throw new Error(`groupedConv2dPadded: w [${w.shape}] does not match x [${xPadded.shape}] with groups=${groups}`);
  }
  const cog = cout / groups;
  const cog4 = 4 * Math.ceil(cog / 4);
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const ho = Math.floor((hp - dh * (kh - 1) - 1) / sh) + 1;
  const wo = Math.floor((wp - dw * (kw - 1) - 1) / sw) + 1;
  if (cin % 4 === 0 && cog % 4 === 0 && sw === 1) {
    // Planar input ([N, Cin, Hp, Wp] plus 16 bytes of slack read past the last row), 8 pixels x 4 output channels
    // per pass with pixels in lanes.
    const xp = runKernel([xPadded], [n * cin * hp * wp + 4], (k, [xo], o) => k.packPlanar(xo, o, n, hp * wp, cin));
    const wBlocked = packGroupedFilter(w, groups, 4);
    try {
      return runKernel([xp, wBlocked], [n, ho, wo, cout], (k, [xo, wOff], yo) =>
        k.convPlanarP2(xo, wOff, yo, n, hp, wp, cin, ho, wo, cout, cinG, cog, kh, kw, sh, dh, dw),
      ) as tf.Tensor4D;
    } finally {
      tf.dispose([xp, wBlocked]);
    }
  }
  // Tiles of output rows holding about 64 pixels.
  const tileRows = Math.max(1, Math.floor(64 / Math.max(1, wo)));
  const packed = packGroupedFilter(w, groups, 4);
  try {
    return runKernel([xPadded, packed], [n, ho, wo, cout], (k, [xo, wOff], yo) =>
      k.conv(xo, wOff, yo, n, hp, wp, cin, ho, wo, cout, cinG, cog, kh, kw, sh, sw, dh, dw, cog4, tileRows),
    ) as tf.Tensor4D;
  } finally {
    packed.dispose();
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

/**
 * Filter gradient of a grouped convolution: dw[ky, kx, ci, g*Cog + co] = sum over n, oy, ox of
 * xPadded[n, oy*sh + ky*dh, ox*sw + kx*dw, g*Cg + ci] * dy[n, oy, ox, g*Cog + co].
 *
 * @param xPadded [N, Hp, Wp, Cin] float32, the forward input with the forward padding applied.
 * @param dy [N, Ho, Wo, Cout] float32, the output gradient.
 * @param filterShape [kh, kw, Cin/groups, Cout]. @param g strides and dilations (pads ignored).
 * @returns [kh, kw, Cin/groups, Cout] float32, new tensor owned by the caller. Not recorded for gradients.
 */
export function groupedConv2dFilterGrad(
  xPadded: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  g: ConvGeometry,
  groups: number,
): tf.Tensor4D {
  const [n, hp, wp, cin] = xPadded.shape;
  const [, ho, wo, cout] = dy.shape;
  const [kh, kw, cinG] = filterShape;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  // Tiles of output rows holding at least ~64 pixels: a tile's x and dy rows stay in cache across all groups and taps.
  const tileRows = Math.max(1, Math.ceil(64 / Math.max(1, wo)));
  return runKernel([xPadded, dy], filterShape, (k, [xo, dyo], dwo) =>
    k.filterGrad(xo, dyo, dwo, n, hp, wp, cin, ho, wo, cout, cinG, cout / groups, kh, kw, sh, sw, dh, dw, tileRows),
  ) as tf.Tensor4D;
}
