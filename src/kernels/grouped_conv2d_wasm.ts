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
  'AGFzbQEAAAABTwRgFH9/f39/f39/f39/f39/f39/f39/AGAKf39/f39/f39/fwBgEX9/f39/f39/f39/f39/f39/AGATf39/f39/f39/f39/f39/f39/fwACDwEDZW52Bm1lbW9yeQIAAQMFBAABAgMHMQQEY29udgAACnBhY2tQbGFuYXIAAQxjb252UGxhbmFyUDIAAgpmaWx0ZXJHcmFkAAMK1jYE5RUCL38JeyAGIApuIRQgBkEEbCEVIAUgFWwhFiAEIBZsIRcgDyAVbCEYIBEgFWwhGSAQIBZsIRogDiAWbCAIIBhsayEbIApBEGwhQSAMIA1sIApsQRBsIRwgCkEDcUUhQiAJQQRsIR1BACEeAkADQCAeIANODQFBACEfAkADQCAfIAdODQEgHyATaiEgICAgB0oEQCAHISALICAgH2sgCGwhJEEAISECQANAICEgFE4NASAAIB4gF2xqIB8gDmwgFmxqICEgCmxBBGxqISdBACEiAkADQCAiIAtODQEgASAhIBJBAnZsICJBAnZqIBxsaiEoIAIgHiAHbCAfaiAIbCAdbGogISALbCAiakEEbGohKSALICJrISogJyElQQAhJkEAISMCQANAICNBCGogJEoNASAlITEgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSEyICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhMyAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITQgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSE1ICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhNiAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITcgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSE4ICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISUL/QwAAAAAAAAAAAAAAAAAAAAAIUP9DAAAAAAAAAAAAAAAAAAAAAAhRP0MAAAAAAAAAAAAAAAAAAAAACFF/QwAAAAAAAAAAAAAAAAAAAAAIUb9DAAAAAAAAAAAAAAAAAAAAAAhR/0MAAAAAAAAAAAAAAAAAAAAACFI/QwAAAAAAAAAAAAAAAAAAAAAIUn9DAAAAAAAAAAAAAAAAAAAAAAhSiAoIS9BACErA0AgKyAabCEuQQAhLANAIC4gLCAZbGohLSAvIEFqITAgQgRAA0AgMSAtaiE5IDIgLWohOiAzIC1qITsgNCAtaiE8IDUgLWohPSA2IC1qIT4gNyAtaiE/IDggLWohQCAv/QACACFLIEMgOf0JAgAgS/3mAf3kASFDIEQgOv0JAgAgS/3mAf3kASFEIEUgO/0JAgAgS/3mAf3kASFFIEYgPP0JAgAgS/3mAf3kASFGIEcgPf0JAgAgS/3mAf3kASFHIEggPv0JAgAgS/3mAf3kASFIIEkgP/0JAgAgS/3mAf3kASFJIEogQP0JAgAgS/3mAf3kASFKIC/9AAIQIUsgQyA5/QkCBCBL/eYB/eQBIUMgRCA6/QkCBCBL/eYB/eQBIUQgRSA7/QkCBCBL/eYB/eQBIUUgRiA8/QkCBCBL/eYB/eQBIUYgRyA9/QkCBCBL/eYB/eQBIUcgSCA+/QkCBCBL/eYB/eQBIUggSSA//QkCBCBL/eYB/eQBIUkgSiBA/QkCBCBL/eYB/eQBIUogL/0AAiAhSyBDIDn9CQIIIEv95gH95AEhQyBEIDr9CQIIIEv95gH95AEhRCBFIDv9CQIIIEv95gH95AEhRSBGIDz9CQIIIEv95gH95AEhRiBHID39CQIIIEv95gH95AEhRyBIID79CQIIIEv95gH95AEhSCBJID/9CQIIIEv95gH95AEhSSBKIED9CQIIIEv95gH95AEhSiAv/QACMCFLIEMgOf0JAgwgS/3mAf3kASFDIEQgOv0JAgwgS/3mAf3kASFEIEUgO/0JAgwgS/3mAf3kASFFIEYgPP0JAgwgS/3mAf3kASFGIEcgPf0JAgwgS/3mAf3kASFHIEggPv0JAgwgS/3mAf3kASFIIEkgP/0JAgwgS/3mAf3kASFJIEogQP0JAgwgS/3mAf3kASFKIC1BEGohLSAvQcAAaiEvIC8gMEkNAAsFA0AgMSAtaiE5IDIgLWohOiAzIC1qITsgNCAtaiE8IDUgLWohPSA2IC1qIT4gNyAtaiE/IDggLWohQCAv/QACACFLIEMgOf0JAgAgS/3mAf3kASFDIEQgOv0JAgAgS/3mAf3kASFEIEUgO/0JAgAgS/3mAf3kASFFIEYgPP0JAgAgS/3mAf3kASFGIEcgPf0JAgAgS/3mAf3kASFHIEggPv0JAgAgS/3mAf3kASFIIEkgP/0JAgAgS/3mAf3kASFJIEogQP0JAgAgS/3mAf3kASFKIC1BBGohLSAvQRBqIS8gLyAwSQ0ACwsgLEEBaiEsICwgDUgNAAsgK0EBaiErICsgDEgNAAsgKkEETgRAICkgQ/0LAgAFICkgQ/0fADgCACAqQQFKBEAgKSBD/R8BOAIECyAqQQJKBEAgKSBD/R8COAIICwsgKSAdaiEpICpBBE4EQCApIET9CwIABSApIET9HwA4AgAgKkEBSgRAICkgRP0fATgCBAsgKkECSgRAICkgRP0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBF/QsCAAUgKSBF/R8AOAIAICpBAUoEQCApIEX9HwE4AgQLICpBAkoEQCApIEX9HwI4AggLCyApIB1qISkgKkEETgRAICkgRv0LAgAFICkgRv0fADgCACAqQQFKBEAgKSBG/R8BOAIECyAqQQJKBEAgKSBG/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEf9CwIABSApIEf9HwA4AgAgKkEBSgRAICkgR/0fATgCBAsgKkECSgRAICkgR/0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBI/QsCAAUgKSBI/R8AOAIAICpBAUoEQCApIEj9HwE4AgQLICpBAkoEQCApIEj9HwI4AggLCyApIB1qISkgKkEETgRAICkgSf0LAgAFICkgSf0fADgCACAqQQFKBEAgKSBJ/R8BOAIECyAqQQJKBEAgKSBJ/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEr9CwIABSApIEr9HwA4AgAgKkEBSgRAICkgSv0fATgCBAsgKkECSgRAICkgSv0fAjgCCAsLICkgHWohKSAjQQhqISMMAAsLAkADQCAjICRODQEgJSExICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISUL/QwAAAAAAAAAAAAAAAAAAAAAIUMgKCEvQQAhKwNAICsgGmwhLkEAISwDQCAuICwgGWxqIS0gLyBBaiEwIEIEQANAIDEgLWohOSAv/QACACFLIEMgOf0JAgAgS/3mAf3kASFDIC/9AAIQIUsgQyA5/QkCBCBL/eYB/eQBIUMgL/0AAiAhSyBDIDn9CQIIIEv95gH95AEhQyAv/QACMCFLIEMgOf0JAgwgS/3mAf3kASFDIC1BEGohLSAvQcAAaiEvIC8gMEkNAAsFA0AgMSAtaiE5IC/9AAIAIUsgQyA5/QkCACBL/eYB/eQBIUMgLUEEaiEtIC9BEGohLyAvIDBJDQALCyAsQQFqISwgLCANSA0ACyArQQFqISsgKyAMSA0ACyAqQQROBEAgKSBD/QsCAAUgKSBD/R8AOAIAICpBAUoEQCApIEP9HwE4AgQLICpBAkoEQCApIEP9HwI4AggLCyApIB1qISkgI0EBaiEjDAALCyAiQQRqISIMAAsLICFBAWohIQwACwsgICEfDAALCyAeQQFqIR4MAAsLC4cGAg9/DHsgAyAGaiAHaiEKIAQgCGogCWohCyALQQRsIQ0gCiANbCEMIAVBBGwhEkEAIRACQANAIBAgAk4NAUEAIRECQANAIBEgBU4NASABIBAgBWwgEWogDGxqIQ8gD0EAIAYgDWz8CwAgDyAGIANqIA1sakEAIAcgDWz8CwAgEUEBaiERDAALC0EAIRUCQANAIBUgA04NASAAIBAgA2wgFWogBCASbGxqIRZBACERAkADQCARIAVODQEgASAQIAVsIBFqIAxsIBUgBmogDWxqaiEXQQAhFAJAA0AgFEEETg0BIBcgFCAMbGpBAGpBACAIQQRs/AsAIBRBAWohFAwACwtBACEUAkADQCAUQQRODQEgFyAUIAxsaiAIIARqQQRsakEAIAlBBGz8CwAgFEEBaiEUDAALCyAWIBFBBGxqIQ4gFyAIQQRsaiEPQQAhEwJAA0AgE0EEaiAESg0BIA79AAIAIRkgDiASav0AAgAhGiAOIBJBAmxq/QACACEbIA4gEkEDbGr9AAIAIRwgGSAa/Q0AAQIDEBESEwQFBgcUFRYXIR0gGyAc/Q0AAQIDEBESEwQFBgcUFRYXIR4gGSAa/Q0ICQoLGBkaGwwNDg8cHR4fIR8gGyAc/Q0ICQoLGBkaGwwNDg8cHR4fISAgHSAe/Q0AAQIDBAUGBxAREhMUFRYXISEgHSAe/Q0ICQoLDA0ODxgZGhscHR4fISIgHyAg/Q0AAQIDBAUGBxAREhMUFRYXISMgHyAg/Q0ICQoLDA0ODxgZGhscHR4fISQgDyAh/QsCACAPIAxqICL9CwIAIA8gDEECbGogI/0LAgAgDyAMQQNsaiAk/QsCACAOIBJBBGxqIQ4gD0EQaiEPIBNBBGohEwwACwsCQANAIBMgBE4NAUEAIRQDQCAPIBQgDGxqIA4gFEEEbGoqAgA4AgAgFEEBaiEUIBRBBEgNAAsgDiASaiEOIA9BBGohDyATQQFqIRMMAAsLIBFBBGohEQwACwsgFUEBaiEVDAALCyAQQQFqIRAMAAsLC7AOAhx/E3sgBiAKbiERIAQgBWxBBGwhEiAFQQRsIRMgDyAFbEEEbCEoIBBBBGwhKSAJQQRsIRQgC0ECdiEWIAwgDWwgCmxBEGwhFUEAIRcCQANAIBcgA04NAUEAIRoCQANAIBogB04NAUEAIRgCQANAIBggEU4NASAAIBcgBmwgGCAKbGogEmwgGiAObCATbGpqIR9BACEZAkADQCAZIBZODQEgASAYIBZsIBlqIBVsaiEdIAIgFyAHbCAaaiAIbCAUbGogGCALbCAZQQRsakEEbGohIEEAIRsCQANAIBtBCGogCEoNAf0MAAAAAAAAAAAAAAAAAAAAACEt/QwAAAAAAAAAAAAAAAAAAAAAIS79DAAAAAAAAAAAAAAAAAAAAAAhL/0MAAAAAAAAAAAAAAAAAAAAACEw/QwAAAAAAAAAAAAAAAAAAAAAITH9DAAAAAAAAAAAAAAAAAAAAAAhMv0MAAAAAAAAAAAAAAAAAAAAACEz/QwAAAAAAAAAAAAAAAAAAAAAITQgHSEkIB8gG0EEbGohIUEAISUDQCAhICUgKGxqISJBACEmA0AgIiEjICQgCkEQbGohLANAICP9AAIAITUgI/0AAhAhNiAk/QkCACE3IC0gNSA3/eYB/eQBIS0gMSA2IDf95gH95AEhMSAk/QkCBCE3IC4gNSA3/eYB/eQBIS4gMiA2IDf95gH95AEhMiAk/QkCCCE3IC8gNSA3/eYB/eQBIS8gMyA2IDf95gH95AEhMyAk/QkCDCE3IDAgNSA3/eYB/eQBITAgNCA2IDf95gH95AEhNCAkQRBqISQgIyASaiEjICQgLEkNAAsgIiApaiEiICZBAWohJiAmIA1IDQALICVBAWohJSAlIAxIDQALICAgGyAUbGohKiAtIC79DQABAgMQERITBAUGBxQVFhchOCAvIDD9DQABAgMQERITBAUGBxQVFhchOSAtIC79DQgJCgsYGRobDA0ODxwdHh8hOiAvIDD9DQgJCgsYGRobDA0ODxwdHh8hOyA4IDn9DQABAgMEBQYHEBESExQVFhchPCA4IDn9DQgJCgsMDQ4PGBkaGxwdHh8hPSA6IDv9DQABAgMEBQYHEBESExQVFhchPiA6IDv9DQgJCgsMDQ4PGBkaGxwdHh8hPyAqIDz9CwIAICogFGohKiAqID39CwIAICogFGohKiAqID79CwIAICogFGohKiAqID/9CwIAICogFGohKiAxIDL9DQABAgMQERITBAUGBxQVFhchOCAzIDT9DQABAgMQERITBAUGBxQVFhchOSAxIDL9DQgJCgsYGRobDA0ODxwdHh8hOiAzIDT9DQgJCgsYGRobDA0ODxwdHh8hOyA4IDn9DQABAgMEBQYHEBESExQVFhchPCA4IDn9DQgJCgsMDQ4PGBkaGxwdHh8hPSA6IDv9DQABAgMEBQYHEBESExQVFhchPiA6IDv9DQgJCgsMDQ4PGBkaGxwdHh8hPyAqIDz9CwIAICogFGohKiAqID39CwIAICogFGohKiAqID79CwIAICogFGohKiAqID/9CwIAICogFGohKiAbQQhqIRsMAAsLAkADQCAbIAhODQEgCCAbayEr/QwAAAAAAAAAAAAAAAAAAAAAIS39DAAAAAAAAAAAAAAAAAAAAAAhLv0MAAAAAAAAAAAAAAAAAAAAACEv/QwAAAAAAAAAAAAAAAAAAAAAITAgHSEkIB8gG0EEbGohIUEAISUDQCAhICUgKGxqISJBACEmA0AgIiEjICQgCkEQbGohLANAICP9AAIAITUgJP0JAgAhNyAtIDUgN/3mAf3kASEtICT9CQIEITcgLiA1IDf95gH95AEhLiAk/QkCCCE3IC8gNSA3/eYB/eQBIS8gJP0JAgwhNyAwIDUgN/3mAf3kASEwICRBEGohJCAjIBJqISMgJCAsSQ0ACyAiIClqISIgJkEBaiEmICYgDUgNAAsgJUEBaiElICUgDEgNAAsgICAbIBRsaiEqIC0gLv0NAAECAxAREhMEBQYHFBUWFyE4IC8gMP0NAAECAxAREhMEBQYHFBUWFyE5IC0gLv0NCAkKCxgZGhsMDQ4PHB0eHyE6IC8gMP0NCAkKCxgZGhsMDQ4PHB0eHyE7IDggOf0NAAECAwQFBgcQERITFBUWFyE8IDggOf0NCAkKCwwNDg8YGRobHB0eHyE9IDogO/0NAAECAwQFBgcQERITFBUWFyE+IDogO/0NCAkKCwwNDg8YGRobHB0eHyE/ICtBAEoEQCAqIDz9CwIAICogFGohKgsgK0EBSgRAICogPf0LAgAgKiAUaiEqCyArQQJKBEAgKiA+/QsCACAqIBRqISoLICtBA0oEQCAqID/9CwIAICogFGohKgsgG0EEaiEbDAALCyAZQQFqIRkMAAsLIBhBAWohGAwACwsgGkEBaiEaDAALCyAXQQFqIRcMAAsLC7EMAhx/BXsgBiAKbiETIAZBBGwhFCAFIBRsIRUgBCAVbCEWIA8gFGwhFyAJQQRsIRggCUEEbCEZIAJBACAMIA1sIApsIBls/AsAIAcgCGxFBEAPC0EAIRoCQANAIBogA04NAUEAIRsCQANAIBsgB04NASAbIBJqIRwgHCAHSgRAIAchHAtBACEdAkADQCAdIBNODQFBACEeAkADQCAeIAtODQEgCyAeayEfIAEgGiAHIAhsbCAYbGogHSALbCAeakEEbGohLUEAISEDQEEAISIDQCAAIBogFmxqICEgEGwgFWxqICIgEWwgFGwgHSAKbEEEbGpqIS5BACEjAkADQCAjQQRqIApKDQEgLiAjQQRsaiElIAIgISANbCAiaiAKbCAjaiAZbCAdIAtsIB5qQQRsamohJiAfQQROBHsgJv0AAgAFIB9BAUYEeyAm/VwCAAUgH0ECRgR7ICb9XQIABSAm/V0CACAmKgII/SACCwsLIS8gH0EETgR7ICYgGWr9AAIABSAfQQFGBHsgJiAZav1cAgAFIB9BAkYEeyAmIBlq/V0CAAUgJiAZav1dAgAgJiAZaioCCP0gAgsLCyEwIB9BBE4EeyAmIBlBAmxq/QACAAUgH0EBRgR7ICYgGUECbGr9XAIABSAfQQJGBHsgJiAZQQJsav1dAgAFICYgGUECbGr9XQIAICYgGUECbGoqAgj9IAILCwshMSAfQQROBHsgJiAZQQNsav0AAgAFIB9BAUYEeyAmIBlBA2xq/VwCAAUgH0ECRgR7ICYgGUEDbGr9XQIABSAmIBlBA2xq/V0CACAmIBlBA2xqKgII/SACCwsLITIgGyEnA0AgJSAnIA5sIBVsaiEqIC0gJyAIIBhsbGohKyArIAggGGxqISwDQCAfQQROBHsgK/0AAgAFIB9BAUYEeyAr/VwCAAUgH0ECRgR7ICv9XQIABSAr/V0CACArKgII/SACCwsLITMgLyAq/QkCACAz/eYB/eQBIS8gMCAq/QkCBCAz/eYB/eQBITAgMSAq/QkCCCAz/eYB/eQBITEgMiAq/QkCDCAz/eYB/eQBITIgKiAXaiEqICsgGGohKyArICxJDQALICdBAWohJyAnIBxIDQALIB9BBE4EQCAmIC/9CwIABSAmIC/9HwA4AgAgH0EBSgRAICYgL/0fATgCBAsgH0ECSgRAICYgL/0fAjgCCAsLIB9BBE4EQCAmIBlqIDD9CwIABSAmIBlqIDD9HwA4AgAgH0EBSgRAICYgGWogMP0fATgCBAsgH0ECSgRAICYgGWogMP0fAjgCCAsLIB9BBE4EQCAmIBlBAmxqIDH9CwIABSAmIBlBAmxqIDH9HwA4AgAgH0EBSgRAICYgGUECbGogMf0fATgCBAsgH0ECSgRAICYgGUECbGogMf0fAjgCCAsLIB9BBE4EQCAmIBlBA2xqIDL9CwIABSAmIBlBA2xqIDL9HwA4AgAgH0EBSgRAICYgGUEDbGogMv0fATgCBAsgH0ECSgRAICYgGUEDbGogMv0fAjgCCAsLICNBBGohIwwACwsCQANAICMgCk4NASAuICNBBGxqISUgAiAhIA1sICJqIApsICNqIBlsIB0gC2wgHmpBBGxqaiEmIB9BBE4EeyAm/QACAAUgH0EBRgR7ICb9XAIABSAfQQJGBHsgJv1dAgAFICb9XQIAICYqAgj9IAILCwshLyAbIScDQCAlICcgDmwgFWxqISogLSAnIAggGGxsaiErICsgCCAYbGohLANAIB9BBE4EeyAr/QACAAUgH0EBRgR7ICv9XAIABSAfQQJGBHsgK/1dAgAFICv9XQIAICsqAgj9IAILCwshMyAvICr9CQIAIDP95gH95AEhLyAqIBdqISogKyAYaiErICsgLEkNAAsgJ0EBaiEnICcgHEgNAAsgH0EETgRAICYgL/0LAgAFICYgL/0fADgCACAfQQFKBEAgJiAv/R8BOAIECyAfQQJKBEAgJiAv/R8COAIICwsgI0EBaiEjDAALCyAiQQFqISIgIiANSA0ACyAhQQFqISEgISAMSA0ACyAeQQRqIR4MAAsLIB1BAWohHQwACwsgHCEbDAALCyAaQQFqIRoMAAsLCw==';

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
    const xp = runKernel([x], [n * cin * hp * wp + 4], (k, [xo], o) => k.packPlanar(xo, o, n, h, wi, cin, pt, pb, pl, pr));
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
