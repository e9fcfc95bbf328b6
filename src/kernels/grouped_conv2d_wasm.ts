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
  'AGFzbQEAAAABXwVgFH9/f39/f39/f39/f39/f39/f39/AGAFf39/f38AYBF/f39/f39/f39/f39/f39/fwBgEn9/f39/f39/f39/f39/f39/fwBgE39/f39/f39/f39/f39/f39/f38AAg8BA2VudgZtZW1vcnkCAAEDCAcAAQECAwMEB08HBGNvbnYAAAVwYWNrWAABCnBhY2tQbGFuYXIAAgxjb252UGxhbmFyUDIAAwhjb252QzJQNAAECGNvbnZDNFAyAAUKZmlsdGVyR3JhZAAGCuhVB+UVAi9/CXsgBiAKbiEUIAZBBGwhFSAFIBVsIRYgBCAWbCEXIA8gFWwhGCARIBVsIRkgECAWbCEaIA4gFmwgCCAYbGshGyAKQRBsIUEgDCANbCAKbEEQbCEcIApBA3FFIUIgCUEEbCEdQQAhHgJAA0AgHiADTg0BQQAhHwJAA0AgHyAHTg0BIB8gE2ohICAgIAdKBEAgByEgCyAgIB9rIAhsISRBACEhAkADQCAhIBRODQEgACAeIBdsaiAfIA5sIBZsaiAhIApsQQRsaiEnQQAhIgJAA0AgIiALTg0BIAEgISASQQJ2bCAiQQJ2aiAcbGohKCACIB4gB2wgH2ogCGwgHWxqICEgC2wgImpBBGxqISkgCyAiayEqICchJUEAISZBACEjAkADQCAjQQhqICRKDQEgJSExICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhMiAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITMgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSE0ICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhNSAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElCyAlITYgJSAYaiElICZBAWohJiAmIAhGBEBBACEmICUgG2ohJQsgJSE3ICUgGGohJSAmQQFqISYgJiAIRgRAQQAhJiAlIBtqISULICUhOCAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElC/0MAAAAAAAAAAAAAAAAAAAAACFD/QwAAAAAAAAAAAAAAAAAAAAAIUT9DAAAAAAAAAAAAAAAAAAAAAAhRf0MAAAAAAAAAAAAAAAAAAAAACFG/QwAAAAAAAAAAAAAAAAAAAAAIUf9DAAAAAAAAAAAAAAAAAAAAAAhSP0MAAAAAAAAAAAAAAAAAAAAACFJ/QwAAAAAAAAAAAAAAAAAAAAAIUogKCEvQQAhKwNAICsgGmwhLkEAISwDQCAuICwgGWxqIS0gLyBBaiEwIEIEQANAIDEgLWohOSAyIC1qITogMyAtaiE7IDQgLWohPCA1IC1qIT0gNiAtaiE+IDcgLWohPyA4IC1qIUAgL/0AAgAhSyBDIDn9CQIAIEv95gH95AEhQyBEIDr9CQIAIEv95gH95AEhRCBFIDv9CQIAIEv95gH95AEhRSBGIDz9CQIAIEv95gH95AEhRiBHID39CQIAIEv95gH95AEhRyBIID79CQIAIEv95gH95AEhSCBJID/9CQIAIEv95gH95AEhSSBKIED9CQIAIEv95gH95AEhSiAv/QACECFLIEMgOf0JAgQgS/3mAf3kASFDIEQgOv0JAgQgS/3mAf3kASFEIEUgO/0JAgQgS/3mAf3kASFFIEYgPP0JAgQgS/3mAf3kASFGIEcgPf0JAgQgS/3mAf3kASFHIEggPv0JAgQgS/3mAf3kASFIIEkgP/0JAgQgS/3mAf3kASFJIEogQP0JAgQgS/3mAf3kASFKIC/9AAIgIUsgQyA5/QkCCCBL/eYB/eQBIUMgRCA6/QkCCCBL/eYB/eQBIUQgRSA7/QkCCCBL/eYB/eQBIUUgRiA8/QkCCCBL/eYB/eQBIUYgRyA9/QkCCCBL/eYB/eQBIUcgSCA+/QkCCCBL/eYB/eQBIUggSSA//QkCCCBL/eYB/eQBIUkgSiBA/QkCCCBL/eYB/eQBIUogL/0AAjAhSyBDIDn9CQIMIEv95gH95AEhQyBEIDr9CQIMIEv95gH95AEhRCBFIDv9CQIMIEv95gH95AEhRSBGIDz9CQIMIEv95gH95AEhRiBHID39CQIMIEv95gH95AEhRyBIID79CQIMIEv95gH95AEhSCBJID/9CQIMIEv95gH95AEhSSBKIED9CQIMIEv95gH95AEhSiAtQRBqIS0gL0HAAGohLyAvIDBJDQALBQNAIDEgLWohOSAyIC1qITogMyAtaiE7IDQgLWohPCA1IC1qIT0gNiAtaiE+IDcgLWohPyA4IC1qIUAgL/0AAgAhSyBDIDn9CQIAIEv95gH95AEhQyBEIDr9CQIAIEv95gH95AEhRCBFIDv9CQIAIEv95gH95AEhRSBGIDz9CQIAIEv95gH95AEhRiBHID39CQIAIEv95gH95AEhRyBIID79CQIAIEv95gH95AEhSCBJID/9CQIAIEv95gH95AEhSSBKIED9CQIAIEv95gH95AEhSiAtQQRqIS0gL0EQaiEvIC8gMEkNAAsLICxBAWohLCAsIA1IDQALICtBAWohKyArIAxIDQALICpBBE4EQCApIEP9CwIABSApIEP9HwA4AgAgKkEBSgRAICkgQ/0fATgCBAsgKkECSgRAICkgQ/0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBE/QsCAAUgKSBE/R8AOAIAICpBAUoEQCApIET9HwE4AgQLICpBAkoEQCApIET9HwI4AggLCyApIB1qISkgKkEETgRAICkgRf0LAgAFICkgRf0fADgCACAqQQFKBEAgKSBF/R8BOAIECyAqQQJKBEAgKSBF/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEb9CwIABSApIEb9HwA4AgAgKkEBSgRAICkgRv0fATgCBAsgKkECSgRAICkgRv0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBH/QsCAAUgKSBH/R8AOAIAICpBAUoEQCApIEf9HwE4AgQLICpBAkoEQCApIEf9HwI4AggLCyApIB1qISkgKkEETgRAICkgSP0LAgAFICkgSP0fADgCACAqQQFKBEAgKSBI/R8BOAIECyAqQQJKBEAgKSBI/R8COAIICwsgKSAdaiEpICpBBE4EQCApIEn9CwIABSApIEn9HwA4AgAgKkEBSgRAICkgSf0fATgCBAsgKkECSgRAICkgSf0fAjgCCAsLICkgHWohKSAqQQROBEAgKSBK/QsCAAUgKSBK/R8AOAIAICpBAUoEQCApIEr9HwE4AgQLICpBAkoEQCApIEr9HwI4AggLCyApIB1qISkgI0EIaiEjDAALCwJAA0AgIyAkTg0BICUhMSAlIBhqISUgJkEBaiEmICYgCEYEQEEAISYgJSAbaiElC/0MAAAAAAAAAAAAAAAAAAAAACFDICghL0EAISsDQCArIBpsIS5BACEsA0AgLiAsIBlsaiEtIC8gQWohMCBCBEADQCAxIC1qITkgL/0AAgAhSyBDIDn9CQIAIEv95gH95AEhQyAv/QACECFLIEMgOf0JAgQgS/3mAf3kASFDIC/9AAIgIUsgQyA5/QkCCCBL/eYB/eQBIUMgL/0AAjAhSyBDIDn9CQIMIEv95gH95AEhQyAtQRBqIS0gL0HAAGohLyAvIDBJDQALBQNAIDEgLWohOSAv/QACACFLIEMgOf0JAgAgS/3mAf3kASFDIC1BBGohLSAvQRBqIS8gLyAwSQ0ACwsgLEEBaiEsICwgDUgNAAsgK0EBaiErICsgDEgNAAsgKkEETgRAICkgQ/0LAgAFICkgQ/0fADgCACAqQQFKBEAgKSBD/R8BOAIECyAqQQJKBEAgKSBD/R8COAIICwsgKSAdaiEpICNBAWohIwwACwsgIkEEaiEiDAALCyAhQQFqISEMAAsLICAhHwwACwsgHkEBaiEeDAALCwvFAgEIfyADQRBsIQUgBEECdiEKIARBBGwhCyADRQRADwtBACEIAkADQCAIIAJODQFBACEJAkADQCAJQQRqIApKDQEgACAIIANsIAtsaiAJQRBsaiEGIAYgAyALbGohDCABIAggCmwgCWogBWxqIQcDQCAHIAb9AAIA/QsCACAHIAVBAWxqIAb9AAIQ/QsCACAHIAVBAmxqIAb9AAIg/QsCACAHIAVBA2xqIAb9AAIw/QsCACAHQRBqIQcgBiALaiEGIAYgDEkNAAsgCUEEaiEJDAALCwJAA0AgCSAKTg0BIAAgCCADbCALbGogCUEQbGohBiAGIAMgC2xqIQwgASAIIApsIAlqIAVsaiEHA0AgByAG/QACAP0LAgAgB0EQaiEHIAYgC2ohBiAGIAxJDQALIAlBAWohCQwACwsgCEEBaiEIDAALCwvRBAILfwx7IANBBGwhBSAEQQRsIQpBgIACIApuQXxxIQ0gDUEESARAQQQhDQtBACEIAkADQCAIIAJODQFBACEOAkADQCAOIANODQEgDiANaiEPIA8gA0oEQCADIQ8LQQAhCQJAA0AgCSAETg0BIAAgCCADbCAOaiAKbGogCUEEbGohBiABIAggBGwgCWogBWwgDkEEbGpqIQcgDiELAkADQCALQQRqIA9KDQEgBv0AAgAhECAGIApq/QACACERIAYgCkECbGr9AAIAIRIgBiAKQQNsav0AAgAhEyAQIBH9DQABAgMQERITBAUGBxQVFhchFCASIBP9DQABAgMQERITBAUGBxQVFhchFSAQIBH9DQgJCgsYGRobDA0ODxwdHh8hFiASIBP9DQgJCgsYGRobDA0ODxwdHh8hFyAUIBX9DQABAgMEBQYHEBESExQVFhchGCAUIBX9DQgJCgsMDQ4PGBkaGxwdHh8hGSAWIBf9DQABAgMEBQYHEBESExQVFhchGiAWIBf9DQgJCgsMDQ4PGBkaGxwdHh8hGyAHIBj9CwIAIAcgBWogGf0LAgAgByAFQQJsaiAa/QsCACAHIAVBA2xqIBv9CwIAIAYgCkEEbGohBiAHQRBqIQcgC0EEaiELDAALCwJAA0AgCyAPTg0BQQAhDANAIAcgDCAFbGogBiAMQQRsaioCADgCACAMQQFqIQwgDEEESA0ACyAGIApqIQYgB0EEaiEHIAtBAWohCwwACwsgCUEEaiEJDAALCyAPIQ4MAAsLIAhBAWohCAwACwsLsA4CHH8TeyAGIApuIREgBCAFbEEEbCESIAVBBGwhEyAPIAVsQQRsISggEEEEbCEpIAlBBGwhFCALQQJ2IRYgDCANbCAKbEEQbCEVQQAhFwJAA0AgFyADTg0BQQAhGgJAA0AgGiAHTg0BQQAhGAJAA0AgGCARTg0BIAAgFyAGbCAYIApsaiASbCAaIA5sIBNsamohH0EAIRkCQANAIBkgFk4NASABIBggFmwgGWogFWxqIR0gAiAXIAdsIBpqIAhsIBRsaiAYIAtsIBlBBGxqQQRsaiEgQQAhGwJAA0AgG0EIaiAISg0B/QwAAAAAAAAAAAAAAAAAAAAAIS39DAAAAAAAAAAAAAAAAAAAAAAhLv0MAAAAAAAAAAAAAAAAAAAAACEv/QwAAAAAAAAAAAAAAAAAAAAAITD9DAAAAAAAAAAAAAAAAAAAAAAhMf0MAAAAAAAAAAAAAAAAAAAAACEy/QwAAAAAAAAAAAAAAAAAAAAAITP9DAAAAAAAAAAAAAAAAAAAAAAhNCAdISQgHyAbQQRsaiEhQQAhJQNAICEgJSAobGohIkEAISYDQCAiISMgJCAKQRBsaiEsA0AgI/0AAgAhNSAj/QACECE2ICT9CQIAITcgLSA1IDf95gH95AEhLSAxIDYgN/3mAf3kASExICT9CQIEITcgLiA1IDf95gH95AEhLiAyIDYgN/3mAf3kASEyICT9CQIIITcgLyA1IDf95gH95AEhLyAzIDYgN/3mAf3kASEzICT9CQIMITcgMCA1IDf95gH95AEhMCA0IDYgN/3mAf3kASE0ICRBEGohJCAjIBJqISMgJCAsSQ0ACyAiIClqISIgJkEBaiEmICYgDUgNAAsgJUEBaiElICUgDEgNAAsgICAbIBRsaiEqIC0gLv0NAAECAxAREhMEBQYHFBUWFyE4IC8gMP0NAAECAxAREhMEBQYHFBUWFyE5IC0gLv0NCAkKCxgZGhsMDQ4PHB0eHyE6IC8gMP0NCAkKCxgZGhsMDQ4PHB0eHyE7IDggOf0NAAECAwQFBgcQERITFBUWFyE8IDggOf0NCAkKCwwNDg8YGRobHB0eHyE9IDogO/0NAAECAwQFBgcQERITFBUWFyE+IDogO/0NCAkKCwwNDg8YGRobHB0eHyE/ICogPP0LAgAgKiAUaiEqICogPf0LAgAgKiAUaiEqICogPv0LAgAgKiAUaiEqICogP/0LAgAgKiAUaiEqIDEgMv0NAAECAxAREhMEBQYHFBUWFyE4IDMgNP0NAAECAxAREhMEBQYHFBUWFyE5IDEgMv0NCAkKCxgZGhsMDQ4PHB0eHyE6IDMgNP0NCAkKCxgZGhsMDQ4PHB0eHyE7IDggOf0NAAECAwQFBgcQERITFBUWFyE8IDggOf0NCAkKCwwNDg8YGRobHB0eHyE9IDogO/0NAAECAwQFBgcQERITFBUWFyE+IDogO/0NCAkKCwwNDg8YGRobHB0eHyE/ICogPP0LAgAgKiAUaiEqICogPf0LAgAgKiAUaiEqICogPv0LAgAgKiAUaiEqICogP/0LAgAgKiAUaiEqIBtBCGohGwwACwsCQANAIBsgCE4NASAIIBtrISv9DAAAAAAAAAAAAAAAAAAAAAAhLf0MAAAAAAAAAAAAAAAAAAAAACEu/QwAAAAAAAAAAAAAAAAAAAAAIS/9DAAAAAAAAAAAAAAAAAAAAAAhMCAdISQgHyAbQQRsaiEhQQAhJQNAICEgJSAobGohIkEAISYDQCAiISMgJCAKQRBsaiEsA0AgI/0AAgAhNSAk/QkCACE3IC0gNSA3/eYB/eQBIS0gJP0JAgQhNyAuIDUgN/3mAf3kASEuICT9CQIIITcgLyA1IDf95gH95AEhLyAk/QkCDCE3IDAgNSA3/eYB/eQBITAgJEEQaiEkICMgEmohIyAkICxJDQALICIgKWohIiAmQQFqISYgJiANSA0ACyAlQQFqISUgJSAMSA0ACyAgIBsgFGxqISogLSAu/Q0AAQIDEBESEwQFBgcUFRYXITggLyAw/Q0AAQIDEBESEwQFBgcUFRYXITkgLSAu/Q0ICQoLGBkaGwwNDg8cHR4fITogLyAw/Q0ICQoLGBkaGwwNDg8cHR4fITsgOCA5/Q0AAQIDBAUGBxAREhMUFRYXITwgOCA5/Q0ICQoLDA0ODxgZGhscHR4fIT0gOiA7/Q0AAQIDBAUGBxAREhMUFRYXIT4gOiA7/Q0ICQoLDA0ODxgZGhscHR4fIT8gK0EASgRAICogPP0LAgAgKiAUaiEqCyArQQFKBEAgKiA9/QsCACAqIBRqISoLICtBAkoEQCAqID79CwIAICogFGohKgsgK0EDSgRAICogP/0LAgAgKiAUaiEqCyAbQQRqIRsMAAsLIBlBAWohGQwACwsgGEEBaiEYDAALCyAaQQFqIRoMAAsLIBdBAWohFwwACwsLhg4CHX8LeyAGIApuIRIgBCAFbEEQbCETIAVBEGwhFCAPIAVsQRBsISogEEEQbCErIAlBBGwhFSAKQQJ2ISkgC0EIbiEXIAwgDWwgCmxBIGwhFkEAIRgCQANAIBggA04NAUEAIS0CQANAIC0gB04NASAtIBFqIS4gLiAHSgRAIAchLgtBACEZAkADQCAZIBJODQEgACAYIAZBAnZsIBkgKWxqIBNsaiEdQQAhGgJAA0AgGiAXTg0BIAEgGSAXbCAaaiAWbGohHiACIBggB2wgCGwgFWxqIBkgC2wgGkEIbGpBBGxqIR8gLSEbAkADQCAbIC5ODQEgHSAbIA5sIBRsaiEgIB8gGyAIbCAVbGohIUEAIRwCQANAIBxBBGogCEoNAf0MAAAAAAAAAAAAAAAAAAAAACEv/QwAAAAAAAAAAAAAAAAAAAAAITD9DAAAAAAAAAAAAAAAAAAAAAAhMf0MAAAAAAAAAAAAAAAAAAAAACEy/QwAAAAAAAAAAAAAAAAAAAAAITP9DAAAAAAAAAAAAAAAAAAAAAAhNP0MAAAAAAAAAAAAAAAAAAAAACE1/QwAAAAAAAAAAAAAAAAAAAAAITYgHiElICAgHEEQbGohIkEAISYDQCAiICYgKmxqISNBACEnA0AgIyEkQQAhKANAICX9AAIAITcgJf0AAhAhOCAk/QkCACE5IC8gOSA3/eYB/eQBIS8gMCA5IDj95gH95AEhMCAk/QkCECE5IDEgOSA3/eYB/eQBITEgMiA5IDj95gH95AEhMiAk/QkCICE5IDMgOSA3/eYB/eQBITMgNCA5IDj95gH95AEhNCAk/QkCMCE5IDUgOSA3/eYB/eQBITUgNiA5IDj95gH95AEhNiAl/QACICE3ICX9AAIwITggJP0JAgQhOSAvIDkgN/3mAf3kASEvIDAgOSA4/eYB/eQBITAgJP0JAhQhOSAxIDkgN/3mAf3kASExIDIgOSA4/eYB/eQBITIgJP0JAiQhOSAzIDkgN/3mAf3kASEzIDQgOSA4/eYB/eQBITQgJP0JAjQhOSA1IDkgN/3mAf3kASE1IDYgOSA4/eYB/eQBITYgJf0AAkAhNyAl/QACUCE4ICT9CQIIITkgLyA5IDf95gH95AEhLyAwIDkgOP3mAf3kASEwICT9CQIYITkgMSA5IDf95gH95AEhMSAyIDkgOP3mAf3kASEyICT9CQIoITkgMyA5IDf95gH95AEhMyA0IDkgOP3mAf3kASE0ICT9CQI4ITkgNSA5IDf95gH95AEhNSA2IDkgOP3mAf3kASE2ICX9AAJgITcgJf0AAnAhOCAk/QkCDCE5IC8gOSA3/eYB/eQBIS8gMCA5IDj95gH95AEhMCAk/QkCHCE5IDEgOSA3/eYB/eQBITEgMiA5IDj95gH95AEhMiAk/QkCLCE5IDMgOSA3/eYB/eQBITMgNCA5IDj95gH95AEhNCAk/QkCPCE5IDUgOSA3/eYB/eQBITUgNiA5IDj95gH95AEhNiAlQYABaiElICQgE2ohJCAoQQFqISggKCApSA0ACyAjICtqISMgJ0EBaiEnICcgDUgNAAsgJkEBaiEmICYgDEgNAAsgISAcIBVsaiEsICxBAGogL/0LAgAgLEEQaiAw/QsCACAsIBVqISwgLEEAaiAx/QsCACAsQRBqIDL9CwIAICwgFWohLCAsQQBqIDP9CwIAICxBEGogNP0LAgAgLCAVaiEsICxBAGogNf0LAgAgLEEQaiA2/QsCACAcQQRqIRwMAAsLAkADQCAcIAhODQH9DAAAAAAAAAAAAAAAAAAAAAAhL/0MAAAAAAAAAAAAAAAAAAAAACEwIB4hJSAgIBxBEGxqISJBACEmA0AgIiAmICpsaiEjQQAhJwNAICMhJEEAISgDQCAl/QACACE3ICX9AAIQITggJP0JAgAhOSAvIDkgN/3mAf3kASEvIDAgOSA4/eYB/eQBITAgJf0AAiAhNyAl/QACMCE4ICT9CQIEITkgLyA5IDf95gH95AEhLyAwIDkgOP3mAf3kASEwICX9AAJAITcgJf0AAlAhOCAk/QkCCCE5IC8gOSA3/eYB/eQBIS8gMCA5IDj95gH95AEhMCAl/QACYCE3ICX9AAJwITggJP0JAgwhOSAvIDkgN/3mAf3kASEvIDAgOSA4/eYB/eQBITAgJUGAAWohJSAkIBNqISQgKEEBaiEoICggKUgNAAsgIyAraiEjICdBAWohJyAnIA1IDQALICZBAWohJiAmIAxIDQALICEgHCAVbGohLCAsQQBqIC/9CwIAICxBEGogMP0LAgAgHEEBaiEcDAALCyAbQQFqIRsMAAsLIBpBAWohGgwACwsgGUEBaiEZDAALCyAuIS0MAAsLIBhBAWohGAwACwsL9w8CHX8NeyAGIApuIRIgBCAFbEEQbCETIAVBEGwhFCAPIAVsQRBsISogEEEQbCErIAlBBGwhFSAKQQJ2ISkgC0EQbiEXIAwgDWwgCmxBwABsIRZBACEYAkADQCAYIANODQFBACEtAkADQCAtIAdODQEgLSARaiEuIC4gB0oEQCAHIS4LQQAhGQJAA0AgGSASTg0BIAAgGCAGQQJ2bCAZIClsaiATbGohHUEAIRoCQANAIBogF04NASABIBkgF2wgGmogFmxqIR4gAiAYIAdsIAhsIBVsaiAZIAtsIBpBEGxqQQRsaiEfIC0hGwJAA0AgGyAuTg0BIB0gGyAObCAUbGohICAfIBsgCGwgFWxqISFBACEcAkADQCAcQQJqIAhKDQH9DAAAAAAAAAAAAAAAAAAAAAAhL/0MAAAAAAAAAAAAAAAAAAAAACEw/QwAAAAAAAAAAAAAAAAAAAAAITH9DAAAAAAAAAAAAAAAAAAAAAAhMv0MAAAAAAAAAAAAAAAAAAAAACEz/QwAAAAAAAAAAAAAAAAAAAAAITT9DAAAAAAAAAAAAAAAAAAAAAAhNf0MAAAAAAAAAAAAAAAAAAAAACE2IB4hJSAgIBxBEGxqISJBACEmA0AgIiAmICpsaiEjQQAhJwNAICMhJEEAISgDQCAl/QACACE3ICX9AAIQITggJf0AAiAhOSAl/QACMCE6ICT9CQIAITsgLyA7IDf95gH95AEhLyAwIDsgOP3mAf3kASEwIDEgOyA5/eYB/eQBITEgMiA7IDr95gH95AEhMiAk/QkCECE7IDMgOyA3/eYB/eQBITMgNCA7IDj95gH95AEhNCA1IDsgOf3mAf3kASE1IDYgOyA6/eYB/eQBITYgJf0AAkAhNyAl/QACUCE4ICX9AAJgITkgJf0AAnAhOiAk/QkCBCE7IC8gOyA3/eYB/eQBIS8gMCA7IDj95gH95AEhMCAxIDsgOf3mAf3kASExIDIgOyA6/eYB/eQBITIgJP0JAhQhOyAzIDsgN/3mAf3kASEzIDQgOyA4/eYB/eQBITQgNSA7IDn95gH95AEhNSA2IDsgOv3mAf3kASE2ICX9AAKAASE3ICX9AAKQASE4ICX9AAKgASE5ICX9AAKwASE6ICT9CQIIITsgLyA7IDf95gH95AEhLyAwIDsgOP3mAf3kASEwIDEgOyA5/eYB/eQBITEgMiA7IDr95gH95AEhMiAk/QkCGCE7IDMgOyA3/eYB/eQBITMgNCA7IDj95gH95AEhNCA1IDsgOf3mAf3kASE1IDYgOyA6/eYB/eQBITYgJf0AAsABITcgJf0AAtABITggJf0AAuABITkgJf0AAvABITogJP0JAgwhOyAvIDsgN/3mAf3kASEvIDAgOyA4/eYB/eQBITAgMSA7IDn95gH95AEhMSAyIDsgOv3mAf3kASEyICT9CQIcITsgMyA7IDf95gH95AEhMyA0IDsgOP3mAf3kASE0IDUgOyA5/eYB/eQBITUgNiA7IDr95gH95AEhNiAlQYACaiElICQgE2ohJCAoQQFqISggKCApSA0ACyAjICtqISMgJ0EBaiEnICcgDUgNAAsgJkEBaiEmICYgDEgNAAsgISAcIBVsaiEsICxBAGogL/0LAgAgLEEQaiAw/QsCACAsQSBqIDH9CwIAICxBMGogMv0LAgAgLCAVaiEsICxBAGogM/0LAgAgLEEQaiA0/QsCACAsQSBqIDX9CwIAICxBMGogNv0LAgAgHEECaiEcDAALCwJAA0AgHCAITg0B/QwAAAAAAAAAAAAAAAAAAAAAIS/9DAAAAAAAAAAAAAAAAAAAAAAhMP0MAAAAAAAAAAAAAAAAAAAAACEx/QwAAAAAAAAAAAAAAAAAAAAAITIgHiElICAgHEEQbGohIkEAISYDQCAiICYgKmxqISNBACEnA0AgIyEkQQAhKANAICX9AAIAITcgJf0AAhAhOCAl/QACICE5ICX9AAIwITogJP0JAgAhOyAvIDsgN/3mAf3kASEvIDAgOyA4/eYB/eQBITAgMSA7IDn95gH95AEhMSAyIDsgOv3mAf3kASEyICX9AAJAITcgJf0AAlAhOCAl/QACYCE5ICX9AAJwITogJP0JAgQhOyAvIDsgN/3mAf3kASEvIDAgOyA4/eYB/eQBITAgMSA7IDn95gH95AEhMSAyIDsgOv3mAf3kASEyICX9AAKAASE3ICX9AAKQASE4ICX9AAKgASE5ICX9AAKwASE6ICT9CQIIITsgLyA7IDf95gH95AEhLyAwIDsgOP3mAf3kASEwIDEgOyA5/eYB/eQBITEgMiA7IDr95gH95AEhMiAl/QACwAEhNyAl/QAC0AEhOCAl/QAC4AEhOSAl/QAC8AEhOiAk/QkCDCE7IC8gOyA3/eYB/eQBIS8gMCA7IDj95gH95AEhMCAxIDsgOf3mAf3kASExIDIgOyA6/eYB/eQBITIgJUGAAmohJSAkIBNqISQgKEEBaiEoICggKUgNAAsgIyAraiEjICdBAWohJyAnIA1IDQALICZBAWohJiAmIAxIDQALICEgHCAVbGohLCAsQQBqIC/9CwIAICxBEGogMP0LAgAgLEEgaiAx/QsCACAsQTBqIDL9CwIAIBxBAWohHAwACwsgG0EBaiEbDAALCyAaQQFqIRoMAAsLIBlBAWohGQwACwsgLiEtDAALCyAYQQFqIRgMAAsLC7EMAhx/BXsgBiAKbiETIAZBBGwhFCAFIBRsIRUgBCAVbCEWIA8gFGwhFyAJQQRsIRggCUEEbCEZIAJBACAMIA1sIApsIBls/AsAIAcgCGxFBEAPC0EAIRoCQANAIBogA04NAUEAIRsCQANAIBsgB04NASAbIBJqIRwgHCAHSgRAIAchHAtBACEdAkADQCAdIBNODQFBACEeAkADQCAeIAtODQEgCyAeayEfIAEgGiAHIAhsbCAYbGogHSALbCAeakEEbGohLUEAISEDQEEAISIDQCAAIBogFmxqICEgEGwgFWxqICIgEWwgFGwgHSAKbEEEbGpqIS5BACEjAkADQCAjQQRqIApKDQEgLiAjQQRsaiElIAIgISANbCAiaiAKbCAjaiAZbCAdIAtsIB5qQQRsamohJiAfQQROBHsgJv0AAgAFIB9BAUYEeyAm/VwCAAUgH0ECRgR7ICb9XQIABSAm/V0CACAmKgII/SACCwsLIS8gH0EETgR7ICYgGWr9AAIABSAfQQFGBHsgJiAZav1cAgAFIB9BAkYEeyAmIBlq/V0CAAUgJiAZav1dAgAgJiAZaioCCP0gAgsLCyEwIB9BBE4EeyAmIBlBAmxq/QACAAUgH0EBRgR7ICYgGUECbGr9XAIABSAfQQJGBHsgJiAZQQJsav1dAgAFICYgGUECbGr9XQIAICYgGUECbGoqAgj9IAILCwshMSAfQQROBHsgJiAZQQNsav0AAgAFIB9BAUYEeyAmIBlBA2xq/VwCAAUgH0ECRgR7ICYgGUEDbGr9XQIABSAmIBlBA2xq/V0CACAmIBlBA2xqKgII/SACCwsLITIgGyEnA0AgJSAnIA5sIBVsaiEqIC0gJyAIIBhsbGohKyArIAggGGxqISwDQCAfQQROBHsgK/0AAgAFIB9BAUYEeyAr/VwCAAUgH0ECRgR7ICv9XQIABSAr/V0CACArKgII/SACCwsLITMgLyAq/QkCACAz/eYB/eQBIS8gMCAq/QkCBCAz/eYB/eQBITAgMSAq/QkCCCAz/eYB/eQBITEgMiAq/QkCDCAz/eYB/eQBITIgKiAXaiEqICsgGGohKyArICxJDQALICdBAWohJyAnIBxIDQALIB9BBE4EQCAmIC/9CwIABSAmIC/9HwA4AgAgH0EBSgRAICYgL/0fATgCBAsgH0ECSgRAICYgL/0fAjgCCAsLIB9BBE4EQCAmIBlqIDD9CwIABSAmIBlqIDD9HwA4AgAgH0EBSgRAICYgGWogMP0fATgCBAsgH0ECSgRAICYgGWogMP0fAjgCCAsLIB9BBE4EQCAmIBlBAmxqIDH9CwIABSAmIBlBAmxqIDH9HwA4AgAgH0EBSgRAICYgGUECbGogMf0fATgCBAsgH0ECSgRAICYgGUECbGogMf0fAjgCCAsLIB9BBE4EQCAmIBlBA2xqIDL9CwIABSAmIBlBA2xqIDL9HwA4AgAgH0EBSgRAICYgGUEDbGogMv0fATgCBAsgH0ECSgRAICYgGUEDbGogMv0fAjgCCAsLICNBBGohIwwACwsCQANAICMgCk4NASAuICNBBGxqISUgAiAhIA1sICJqIApsICNqIBlsIB0gC2wgHmpBBGxqaiEmIB9BBE4EeyAm/QACAAUgH0EBRgR7ICb9XAIABSAfQQJGBHsgJv1dAgAFICb9XQIAICYqAgj9IAILCwshLyAbIScDQCAlICcgDmwgFWxqISogLSAnIAggGGxsaiErICsgCCAYbGohLANAIB9BBE4EeyAr/QACAAUgH0EBRgR7ICv9XAIABSAfQQJGBHsgK/1dAgAFICv9XQIAICsqAgj9IAILCwshMyAvICr9CQIAIDP95gH95AEhLyAqIBdqISogKyAYaiErICsgLEkNAAsgJ0EBaiEnICcgHEgNAAsgH0EETgRAICYgL/0LAgAFICYgL/0fADgCACAfQQFKBEAgJiAv/R8BOAIECyAfQQJKBEAgJiAv/R8COAIICwsgI0EBaiEjDAALCyAiQQFqISIgIiANSA0ACyAhQQFqISEgISAMSA0ACyAeQQRqIR4MAAsLIB1BAWohHQwACwsgHCEbDAALCyAaQQFqIRoMAAsLCw==';

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
  packX(...args: number[]): void;
  packPlanar(...args: number[]): void;
  convPlanarP2(...args: number[]): void;
  convC2P4(...args: number[]): void;
  convC4P2(...args: number[]): void;
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
  if (cinG % 4 === 0 && cog % 8 === 0 && sw === 1) {
    // Channel-blocked input (pixels of a 4-channel block contiguous) and 8 or 16 output channels per pass.
    const cv = cog % 16 === 0 ? 4 : 2;
    const xc = runKernel([xPadded], [n, cin / 4, hp, wp, 4], (k, [xo], o) => k.packX(xo, o, n, hp * wp, cin));
    const wBlocked = packGroupedFilter(w, groups, 4 * cv);
    const fn = cv === 4 ? 'convC4P2' : 'convC2P4';
    // Tiles of output rows of about 200 KB: a tile's output lines are completed by all groups while in cache.
    const tileRows = Math.max(1, Math.floor(200 * 1024 / (wo * cout * 4)));
    try {
      return runKernel([xc, wBlocked], [n, ho, wo, cout], (k, [xo, wOff], yo) =>
        k[fn](xo, wOff, yo, n, hp, wp, cin, ho, wo, cout, cinG, cog, kh, kw, sh, dh, dw, tileRows),
      ) as tf.Tensor4D;
    } finally {
      tf.dispose([xc, wBlocked]);
    }
  }
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
