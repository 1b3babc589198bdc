// Microphone recorder for the audio input component.
// Records with MediaRecorder, POSTs the recording to /api/uploads over HTTP (the websocket drops client
// messages over ~1 MB), then tells the server the new upload's id through a small event on the element:
// getElement(id).$emit("recorder", {state: "recording" | "uploading" | "done" | "error", ...}).
window.StudioRecorder = window.StudioRecorder || (() => {
  const sessions = {};  // element id -> {recorder, stream, chunks, timer, started}
  const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
  const SUFFIX = {"audio/webm": ".webm", "audio/ogg": ".ogg", "audio/mp4": ".m4a"};

  function tell(id, detail) {
    const element = getElement(id);
    if (element) element.$emit("recorder", detail);
  }

  function supported() {
    return Boolean(window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia
      && window.MediaRecorder);
  }

  function explain(error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError")
      return "The browser was not allowed to use the microphone. Allow it in the site settings (the icon left of "
        + "the address) and press Record again.";
    if (name === "NotFoundError" || name === "OverconstrainedError")
      return "No microphone was found. Plug one in, or upload a recording instead.";
    if (name === "NotReadableError")
      return "The microphone is busy in another application. Close it there and try again.";
    return "Recording failed: " + (error && error.message ? error.message : String(error));
  }

  async function start(id, options) {
    if (!supported()) {
      tell(id, {state: "error", reason: "insecure", host: location.host});
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false, noiseSuppression: false,
                                                                  autoGainControl: false}});
    } catch (error) {
      tell(id, {state: "error", message: explain(error)});
      return;
    }
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
    const recorder = new MediaRecorder(stream, type ? {mimeType: type} : undefined);
    const session = {recorder, stream, chunks: [], started: Date.now(), options};
    sessions[id] = session;
    recorder.ondataavailable = (event) => { if (event.data && event.data.size) session.chunks.push(event.data); };
    recorder.onstop = () => upload(id, session);
    recorder.start(250);
    if (options.maxSeconds) session.timer = setTimeout(() => stop(id), options.maxSeconds * 1000);
    tell(id, {state: "recording"});
  }

  function stop(id) {
    const session = sessions[id];
    if (!session) return;
    delete sessions[id];
    clearTimeout(session.timer);
    if (session.recorder.state !== "inactive") session.recorder.stop();
    session.stream.getTracks().forEach((track) => track.stop());
  }

  async function upload(id, session) {
    const type = (session.recorder.mimeType || "audio/webm").split(";")[0];
    const blob = new Blob(session.chunks, {type});
    const seconds = (Date.now() - session.started) / 1000;
    tell(id, {state: "uploading", seconds, bytes: blob.size});
    const form = new FormData();
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
    form.append("file", blob, "recording-" + stamp + (SUFFIX[type] || ".webm"));
    const query = new URLSearchParams();
    for (const key of ["min_seconds", "max_seconds"]) {
      if (session.options[key] != null) query.set(key, session.options[key]);
    }
    try {
      const response = await fetch((window.path_prefix || "") + "/api/uploads?" + query, {method: "POST", body: form});
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        tell(id, {state: "error", message: body.detail || ("The upload failed (HTTP " + response.status + ").")});
        return;
      }
      tell(id, {state: "done", upload_id: body.id});
    } catch (error) {
      tell(id, {state: "error", message: "The recording could not be sent to the studio: " + error.message});
    }
  }

  function toggle(id, options) {
    return sessions[id] ? stop(id) : start(id, options || {});
  }

  return {supported, start, stop, toggle};
})();
