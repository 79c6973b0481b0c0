// placeholder until the interop suite lands
