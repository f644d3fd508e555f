/*
 * remoteviz's browser client for classic scripts:
 *
 *   <script src="/remoteviz/RemoteVizClient.js"></script>
 *   <body onload="init()">   ...   new RemoteVizRenderArea("TheDiv", 640, 480)
 *
 * The client is an ES module (remoteviz.js, beside this file); a classic script cannot import
 * it, so this one adds it to the page as a module script. A script element added this way
 * delays the window's load event until it has run, so `RemoteVizRenderArea` is defined by the
 * time `onload` handlers run. Code that runs earlier waits for `window.remoteVizReady`, a
 * promise of the class.
 */
(function () {
  "use strict";
  var script = document.createElement("script");
  script.type = "module";
  script.src = new URL("remoteviz.js", document.currentScript.src).href;
  window.remoteVizReady = new Promise(function (resolve, reject) {
    script.onload = function () {
      resolve(window.RemoteVizRenderArea);
    };
    script.onerror = function () {
      reject(new Error("remoteviz: could not load " + script.src));
    };
  });
  document.head.appendChild(script);
})();
