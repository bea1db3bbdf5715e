// Loaded before bootstrap-italia's bundle. Its video.js would inject <style> elements, which
// the Content-Security-Policy (style-src 'self') refuses; the portal shows no videos.
window.VIDEOJS_NO_DYNAMIC_STYLE = true;
