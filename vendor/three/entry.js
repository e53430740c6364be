// The parts of three.js the skelgnn viewer (src/skelgnn/resources/viewer.html) uses, bundled by
// esbuild into one minified IIFE that defines the global THREE (see README.md here). Add a name
// here, rebuild, and commit the bundle when the viewer needs another class.
export {
  REVISION,
  AmbientLight,
  BufferGeometry,
  Color,
  CylinderGeometry,
  DirectionalLight,
  Float32BufferAttribute,
  GridHelper,
  Group,
  HemisphereLight,
  Line,
  LineBasicMaterial,
  Mesh,
  MeshBasicMaterial,
  MeshStandardMaterial,
  PerspectiveCamera,
  Quaternion,
  Scene,
  SphereGeometry,
  CircleGeometry,
  Vector3,
  WebGLRenderer,
} from 'three';
export { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
