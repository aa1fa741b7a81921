"""Faces: detectors (MTCNN, RetinaFace, dlib), differentiable alignment, embedders (a torch port of
dlib's ResNet, dlib itself, facenet's InceptionResnetV1) for the face-identity loss and evaluation."""
